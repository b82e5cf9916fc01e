package replicate

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/understudy-ha/understudy/internal/testkit/mariadb"
)

func TestRangeWhere(t *testing.T) {
	key := []string{"`a`", "`b`"}
	where, args := rangeWhere(key, []string{"1", "2"}, []string{"5", "6"})
	assert.Equal(t, " WHERE (`a` > ? OR `a` = ? AND `b` > ?) AND (`a` < ? OR `a` = ? AND `b` <= ?)", where)
	assert.Equal(t, []any{"1", "1", "2", "5", "5", "6"}, args)
	where, args = rangeWhere(key[:1], nil, []string{"9"})
	assert.Equal(t, " WHERE `a` <= ?", where)
	assert.Equal(t, []any{"9"}, args)
	where, args = rangeWhere(key, nil, nil)
	assert.Empty(t, where)
	assert.Empty(t, args)
}

// TestCompareTablesCompositeKey names the differing rows of the
// article's wp_term_relationships (object_id, term_taxonomy_id), on two
// real servers.
func TestCompareTablesCompositeKey(t *testing.T) {
	src, rpl := mariadb.Start(t, mariadb.Name("src")), mariadb.Start(t, mariadb.Name("rpl"), mariadb.ServerID(2))
	var values []string
	for obj := 1; obj <= 120; obj++ {
		for _, tt := range []int{5, 724} {
			values = append(values, fmt.Sprintf("(%d, %d, 0)", obj, tt))
		}
	}
	schema := "CREATE DATABASE frenchy; CREATE TABLE frenchy.wp_term_relationships (object_id BIGINT UNSIGNED NOT NULL, " +
		"term_taxonomy_id BIGINT UNSIGNED NOT NULL, term_order INT NOT NULL, PRIMARY KEY (object_id, term_taxonomy_id)); " +
		"INSERT INTO frenchy.wp_term_relationships VALUES " + strings.Join(values, ", ") + "; " +
		"CREATE TABLE frenchy.names (a VARCHAR(20), b VARCHAR(20), PRIMARY KEY (a, b)); " +
		"CREATE TABLE frenchy.nokey (v INT)"
	src.Exec(t, schema)
	rpl.Exec(t, schema)
	// The article's conflict, and more drift on the replica.
	rpl.Exec(t, "DELETE FROM frenchy.wp_term_relationships WHERE object_id = 56 AND term_taxonomy_id = 724; "+
		"INSERT INTO frenchy.wp_term_relationships VALUES (56, 725, 0); "+
		"UPDATE frenchy.wp_term_relationships SET term_order = 3 WHERE object_id = 100 AND term_taxonomy_id = 5")
	// Two keys that print alike must still be told apart.
	src.Exec(t, "INSERT INTO frenchy.names VALUES ('x, y', 'z'); INSERT INTO frenchy.nokey VALUES (1)")
	rpl.Exec(t, "INSERT INTO frenchy.names VALUES ('x', 'y, z'); INSERT INTO frenchy.nokey VALUES (2)")

	source, replica := rootMySQL(t, src), rootMySQL(t, rpl)
	rep, err := CompareTables(context.Background(), source, replica, DataCheckConfig{Tables: []string{"frenchy"}, ChunkRows: 50})
	require.NoError(t, err)
	byName := map[string]TableResult{}
	for _, tr := range rep.Tables {
		byName[tr.Table] = tr
	}
	wp := byName["frenchy.wp_term_relationships"]
	assert.False(t, wp.Equal)
	assert.Equal(t, []string{"object_id", "term_taxonomy_id"}, wp.Key)
	assert.Empty(t, wp.Note)
	assert.Len(t, wp.Chunks, 2, "%+v", wp.Chunks)
	assert.ElementsMatch(t, []RowDiff{
		{Key: "(56, 724)", KeyValues: []string{"56", "724"}, OnSource: true},
		{Key: "(56, 725)", KeyValues: []string{"56", "725"}, OnReplica: true},
		{Key: "(100, 5)", KeyValues: []string{"100", "5"}, OnSource: true, OnReplica: true},
	}, wp.Rows)

	names := byName["frenchy.names"]
	assert.Equal(t, []RowDiff{
		{Key: "(x, y, z)", KeyValues: []string{"x, y", "z"}, OnSource: true},
		{Key: "(x, y, z)", KeyValues: []string{"x", "y, z"}, OnReplica: true},
	}, names.Rows)

	nokey := byName["frenchy.nokey"]
	assert.False(t, nokey.Equal)
	assert.Equal(t, "no primary key: differing rows not located", nokey.Note)

	out := rep.String()
	assert.Contains(t, out, "frenchy.wp_term_relationships (object_id, term_taxonomy_id): (56, 724) (missing on replica);")
	assert.Contains(t, out, "(56, 725) (only on replica);")
	assert.Contains(t, out, "(100, 5) (differs);")
	t.Log(out)
}
