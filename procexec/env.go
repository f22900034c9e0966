package procexec

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// buildEnv returns base, then extra in sorted key order, then
// RINGSUP_DAEMON=name (when name is not empty), with one entry per key: a
// later value replaces an earlier one in place. Entries of base without '='
// are kept as they are.
func buildEnv(base []string, extra map[string]string, name string) ([]string, error) {
	env := make([]string, 0, len(base)+len(extra)+1)
	at := make(map[string]int, len(base)+len(extra)+1)
	set := func(kv string) {
		key, _, ok := strings.Cut(kv, "=")
		if !ok {
			key = kv
		}
		if i, dup := at[key]; dup {
			env[i] = kv
			return
		}
		at[key] = len(env)
		env = append(env, kv)
	}
	for _, kv := range base {
		set(kv)
	}
	for _, k := range slices.Sorted(maps.Keys(extra)) {
		v := extra[k]
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return nil, fmt.Errorf("invalid environment variable name %q", k)
		}
		if strings.ContainsRune(v, 0) {
			return nil, fmt.Errorf("invalid value of environment variable %s: contains NUL", k)
		}
		set(k + "=" + v)
	}
	if name != "" {
		set("RINGSUP_DAEMON=" + name)
	}
	return env, nil
}
