package config

import (
	"maps"
	"testing"
)

func TestRlimitsAndUmask(t *testing.T) {
	cfg := mustParse(t, `
[daemons.a]
command = "x"
rlimits = { nofile = 65536, core = 0, memlock = "unlimited" }
umask = "027"
[daemons.b]
command = "x"
umask = 0o022
[daemons.c]
command = "x"
`)
	a, b, c := cfg.Daemons["a"], cfg.Daemons["b"], cfg.Daemons["c"]
	if want := map[string]uint64{"nofile": 65536, "core": 0, "memlock": Unlimited}; !maps.Equal(a.Rlimits, want) {
		t.Errorf("a.Rlimits = %v, want %v", a.Rlimits, want)
	}
	if a.Umask == nil || *a.Umask != 0o027 || b.Umask == nil || *b.Umask != 0o022 {
		t.Errorf("umasks = %v, %v; want 027, 022", a.Umask, b.Umask)
	}
	if c.Rlimits != nil || c.Umask != nil {
		t.Errorf("c has limits %v, umask %v; want none", c.Rlimits, c.Umask)
	}
}
