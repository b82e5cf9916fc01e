$ORIGIN test.ru.
$TTL 10
@	IN	SOA	ns.master.my.com. admin.my.com. (
		2	; Serial
		10	; Refresh
		10	; Retry
		10	; Expire
		10 )	; Negative Cache TTL
	IN	NS	ns.master.my.com.
	IN	NS	ns.slave.my.com.
;
@	IN	A	10.1.0.1
