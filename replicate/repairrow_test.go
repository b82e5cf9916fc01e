package replicate

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestParseDuplicateKey(t *testing.T) {
	tests := []struct {
		name, msg string
		want      DuplicateKey
		ok        bool
	}{
		{"row event (MariaDB 10.11)", "Could not execute Write_rows_v1 event on table lab.t; Duplicate entry '10' for key 'PRIMARY', Error_code: 1062; handler error HA_ERR_FOUND_DUPP_KEY; the event's master log mysql-bin.000001, end_log_pos 1057",
			DuplicateKey{Schema: "lab", Table: "t", Key: "PRIMARY", Value: "10"}, true},
		{"statement event (the article)", "Error 'Duplicate entry '56-724' for key 'PRIMARY'' on query. Default database: 'frenchy'. Query: 'INSERT INTO `wp_term_relationships` (`object_id`, `term_taxonomy_id`) VALUES (56, 724)'",
			DuplicateKey{Schema: "frenchy", Table: "wp_term_relationships", Key: "PRIMARY", Value: "56-724"}, true},
		{"statement with schema", "Error 'Duplicate entry '10' for key 'PRIMARY'' on query. Default database: ''. Query: 'INSERT INTO lab.t VALUES (10,'from-master')'",
			DuplicateKey{Schema: "lab", Table: "t", Key: "PRIMARY", Value: "10"}, true},
		{"MySQL 8 key name", "Could not execute Write_rows event on table shop.orders; Duplicate entry 'abc' for key 'orders.uniq_ref', Error_code: 1062",
			DuplicateKey{Schema: "shop", Table: "orders", Key: "uniq_ref", Value: "abc"}, true},
		{"update statement", "Error 'Duplicate entry '3' for key 'PRIMARY'' on query. Default database: 'x'. Query: 'UPDATE t SET id=3'", DuplicateKey{}, false},
		{"not a 1062", "Can't find record in 't'", DuplicateKey{}, false},
		{"MySQL worker prefix", "Worker 1 failed executing transaction 'ANONYMOUS' at master log mysql-bin.000001, end_log_pos 1057; Could not execute Write_rows event on table lab.t; Duplicate entry '10' for key 't.PRIMARY', Error_code: 1062",
			DuplicateKey{Schema: "lab", Table: "t", Key: "PRIMARY", Value: "10"}, true},
		{"statement whose value spells a row event's table", "Error 'Duplicate entry '10' for key 'PRIMARY'' on query. Default database: 'lab'. Query: 'INSERT INTO t VALUES (10,'x on table shop.orders; y')'",
			DuplicateKey{Schema: "lab", Table: "t", Key: "PRIMARY", Value: "10"}, true},
		{"statement whose value spells another key", "Error 'Duplicate entry '10' for key 'PRIMARY'' on query. Default database: 'lab'. Query: 'INSERT INTO t VALUES (10,'' for key 'uniq'')'",
			DuplicateKey{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ParseDuplicateKey(tt.msg)
			assert.Equal(t, tt.ok, ok)
			assert.Equal(t, tt.want, got)
		})
	}
}

func FuzzParseDuplicateKey(f *testing.F) {
	f.Add("Could not execute Write_rows_v1 event on table lab.t; Duplicate entry '10' for key 'PRIMARY', Error_code: 1062")
	f.Add("Error 'Duplicate entry '56-724' for key 'PRIMARY'' on query. Default database: 'frenchy'. Query: 'INSERT INTO `w` VALUES (1)'")
	f.Fuzz(func(t *testing.T, msg string) {
		dk, ok := ParseDuplicateKey(msg)
		if ok && (dk.Schema == "" || dk.Table == "" || dk.Key == "") {
			t.Fatalf("ok with incomplete %+v", dk)
		}
	})
}

func TestReplaceDomain(t *testing.T) {
	assert.Equal(t, "1-1-4,2-2-9", replaceDomain("1-1-3,2-2-9", "1-1-4"))
	assert.Equal(t, "2-2-9,1-1-4", replaceDomain("2-2-9", "1-1-4"))
	assert.Equal(t, "1-1-4", replaceDomain("", "1-1-4"))
}
