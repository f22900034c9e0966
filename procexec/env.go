package procexec

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// envBase is a base environment made ready for build: one entry per key,
// in the order of their first appearance, and where each key is. A Spawner
// keeps one for os.Environ() and remakes it only when that changes.
type envBase struct {
	raw []string // what it was made from
	env []string
	at  map[string]int
}

// update makes b from raw, unless it was made from an equal list.
func (b *envBase) update(raw []string) {
	if b.at != nil && slices.Equal(raw, b.raw) {
		return
	}
	b.raw = raw
	b.env = make([]string, 0, len(raw))
	b.at = make(map[string]int, len(raw))
	for _, kv := range raw {
		key := envKey(kv)
		if i, dup := b.at[key]; dup {
			b.env[i] = kv
			continue
		}
		b.at[key] = len(b.env)
		b.env = append(b.env, kv)
	}
}

// envKey returns the name of an environment entry: what comes before its
// first '=', or all of it.
func envKey(kv string) string {
	key, _, _ := strings.Cut(kv, "=")
	return key
}

// build returns the base, then extra in sorted key order, then
// RINGSUP_DAEMON=name (when name is not empty), with one entry per key: a
// later value replaces an earlier one in place.
func (b *envBase) build(extra map[string]string, name string) ([]string, error) {
	env := make([]string, len(b.env), len(b.env)+len(extra)+1)
	copy(env, b.env)
	var added map[string]int // keys not in the base, appended
	set := func(key, kv string) {
		if i, ok := b.at[key]; ok {
			env[i] = kv
			return
		}
		if i, ok := added[key]; ok {
			env[i] = kv
			return
		}
		if added == nil {
			added = make(map[string]int, len(extra)+1)
		}
		added[key] = len(env)
		env = append(env, kv)
	}
	for _, k := range slices.Sorted(maps.Keys(extra)) {
		v := extra[k]
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return nil, fmt.Errorf("invalid environment variable name %q", k)
		}
		if strings.ContainsRune(v, 0) {
			return nil, fmt.Errorf("invalid value of environment variable %s: contains NUL", k)
		}
		set(k, k+"="+v)
	}
	if name != "" {
		set("RINGSUP_DAEMON", "RINGSUP_DAEMON="+name)
	}
	return env, nil
}
