package config

import (
	"fmt"
	"time"
)

// DefaultReplicationMaxLag is the lag a replica may have and still be fit
// to take over, when max_lag is absent.
const DefaultReplicationMaxLag = 30 * time.Second

// Replication is one watched MySQL/MariaDB replica (the replicate
// package): `understudy replication status` shows it, `understudy
// replication repair NAME STRATEGY` repairs it when the strategy is listed
// in AllowRepair.
type Replication struct {
	// Pos is where it is written in the file.
	Pos Pos `yaml:"-"`
	// Name is unique among replications.
	Name string `yaml:"name" cfg:"required,name"`
	// Node is the node whose database the replica is (informative; it may
	// be empty).
	Node string `yaml:"node"`
	// Replica is the server whose replication is watched.
	Replica MySQLServer `yaml:"replica" cfg:"required"`
	// Source is the server it replicates from, needed by the data check
	// and by repairs; Source.Address is empty when it is not given.
	Source MySQLServer `yaml:"source"`
	// Connection is the MariaDB connection name or MySQL channel ("" for
	// the default one).
	Connection string `yaml:"connection"`
	// MaxLag is the lag beyond which the replica is not fit (default
	// DefaultReplicationMaxLag).
	MaxLag time.Duration `yaml:"max_lag"`
	// Tables are compared by the data check ("schema.table" or
	// "schema").
	Tables []string `yaml:"tables"`
	// Schemas are dumped and reloaded by the reseed repair.
	Schemas []string `yaml:"schemas"`
	// AllowRepair lists the repair strategies the repair command may run
	// (default: none, report only).
	AllowRepair []string `yaml:"allow_repair" cfg:"oneof=restart|skip|replace-row|reseed"`
}

// MySQLServer is how to log in to one MySQL/MariaDB server.
type MySQLServer struct {
	Address  string `yaml:"address" cfg:"required,hostport"`
	User     string `yaml:"user" cfg:"required"`
	Password Secret `yaml:"password" cfg:"secret"`
}

func (d *decoder) validateReplications(reps []Replication) {
	seen := map[string]bool{}
	for i := range reps {
		r := &reps[i]
		p := fmt.Sprintf("replication[%d]", i)
		if seen[r.Name] {
			d.errorf(d.at(p+".name"), p+".name", "replication %q given twice", r.Name)
		}
		seen[r.Name] = true
		d.notNegative(p+".max_lag", r.MaxLag)
		if r.MaxLag == 0 {
			r.MaxLag = DefaultReplicationMaxLag
		}
		if len(r.AllowRepair) > 0 && !d.given(p+".source") {
			d.errorf(d.at(p+".allow_repair"), p+".allow_repair", "repairs need source")
		}
		for _, s := range r.AllowRepair {
			if s == "reseed" && len(r.Schemas) == 0 {
				d.errorf(d.at(p+".allow_repair"), p+".allow_repair", "reseed needs schemas")
			}
		}
	}
}
