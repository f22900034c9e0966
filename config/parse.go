package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/ringrift/ringsup/depgraph"
	"github.com/ringrift/ringsup/eventtype"
)

// Load reads the config file at path and parses it with [Parse]. A file it
// cannot read gives a plain error wrapping the cause, so that
// errors.Is(err, fs.ErrNotExist) reports a missing file.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read config: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes and validates data, the contents of the config file at path.
// It returns a complete *Config, or a nil *Config and an [ErrorList] holding
// every problem found, each naming path as given. After a TOML syntax error
// Parse checks nothing else.
func Parse(path string, data []byte) (*Config, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = filepath.Clean(path)
	}
	p := &parser{file: path, dir: filepath.Dir(abs), bad: make(map[string]bool)}
	// The scanner reads only data, so it runs while the TOML decoder does.
	// Parse waits for it on every path. A panic of the scanner is Parse's
	// own, as if the scanner had run after the decoder: only once the
	// decoder has accepted data.
	type scan struct {
		pos      map[string]Position
		panicked any
	}
	scanned := make(chan scan, 1)
	go func() {
		var r scan
		defer func() {
			r.panicked = recover()
			scanned <- r
		}()
		r.pos = scanPositions(string(data))
	}()
	raw, syntaxErr := decodeTOML(path, data)
	r := <-scanned
	if syntaxErr != nil {
		return nil, ErrorList{syntaxErr}
	}
	if r.panicked != nil {
		panic(r.panicked)
	}
	p.pos = r.pos
	c := p.config(raw)
	if len(p.errs) > 0 {
		p.errs.sort()
		return nil, p.errs
	}
	c.Path, c.Dir = abs, p.dir
	c.expandInstances()
	return c, nil
}

// decodeTOML decodes data into plain maps, so that a value of the wrong type
// cannot stop the checks of the others.
func decodeTOML(file string, data []byte) (raw map[string]any, e *Error) {
	defer func() {
		// The decoder panics only on its own bugs; report them as a
		// problem with the file rather than crash a reload.
		if r := recover(); r != nil {
			raw, e = nil, &Error{File: file, Line: 1, Col: 1, Msg: fmt.Sprintf("cannot parse TOML: %v", r)}
		}
	}()
	err := toml.Unmarshal(data, &raw)
	if err == nil {
		return raw, nil
	}
	e = &Error{File: file, Line: 1, Col: 1, Msg: err.Error()}
	var pe toml.ParseError
	if errors.As(err, &pe) {
		e.Line, e.Col = max(pe.Position.Line, 1), max(pe.Position.Col, 1)
		if pe.Message != "" {
			e.Msg = lowerMessage(pe.Message)
		}
	}
	return nil, e
}

// lowerMessage returns a message of the TOML decoder in the style of ours:
// "Key 'x' has already been defined." becomes
// "key 'x' has already been defined".
func lowerMessage(msg string) string {
	msg = strings.TrimSuffix(msg, ".")
	if len(msg) >= 2 && 'A' <= msg[0] && msg[0] <= 'Z' && 'a' <= msg[1] && msg[1] <= 'z' {
		msg = string(msg[0]+'a'-'A') + msg[1:]
	}
	return msg
}

// parser holds the state of one Parse.
type parser struct {
	file  string              // the path as given, for messages
	dir   string              // the absolute directory of the file
	pos   map[string]Position // where each key is, by keyPath.id
	errs  ErrorList
	bad   map[string]bool // keys with an error, by keyPath.id
	idBuf []byte          // room for a keyPath.id, to look one up

	// The schemas of the tables there are many of, made on first use.
	daemonFields []field[Daemon]
	healthFields []field[Health]
}

// position returns where k is, or where its closest enclosing table is.
func (p *parser) position(k keyPath) Position {
	for ; len(k) > 0; k = k[:len(k)-1] {
		p.idBuf = k.appendID(p.idBuf[:0])
		if pos, ok := p.pos[string(p.idBuf)]; ok {
			return pos
		}
	}
	return Position{Line: 1, Col: 1}
}

// errorAt records the message msg at k's position.
func (p *parser) errorAt(k keyPath, msg string) {
	pos := p.position(k)
	p.errs = append(p.errs, &Error{File: p.file, Line: pos.Line, Col: pos.Col, Msg: msg})
	p.bad[k.id()] = true
}

// errorf records a message about k, after k's name.
func (p *parser) errorf(k keyPath, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if len(k) > 0 {
		msg = k.String() + ": " + msg
	}
	p.errorAt(k, msg)
}

func (p *parser) typeError(k keyPath, want string, v any) {
	p.errorf(k, "expected %s, got %s", want, tomlType(v))
}

// tomlType returns the TOML name of the type of v, a decoded value.
func tomlType(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case int64:
		return "integer"
	case float64:
		return "float"
	case bool:
		return "boolean"
	case time.Time:
		return "datetime"
	case []any:
		return "array"
	case []map[string]any:
		return "array of tables"
	case map[string]any:
		return "table"
	}
	return fmt.Sprintf("%T", v)
}

func (p *parser) config(raw map[string]any) *Config {
	c := &Config{
		Supervisor: defaultSupervisor(p.dir),
		Profiles:   make(map[string][]string),
		Daemons:    make(map[string]*Daemon),
	}
	decodeTable(p, nil, raw, topFields(), c)

	if v, ok := raw["supervisor"]; ok {
		k := keyPath{"supervisor"}
		if t, ok := p.table(k, v); ok {
			decodeTable(p, k, t, supervisorFields(), &c.Supervisor)
			p.checkBackoff(k, t, c.Supervisor.BackoffMin, c.Supervisor.BackoffMax)
		}
	}
	if v, ok := raw["profiles"]; ok {
		k := keyPath{"profiles"}
		if t, ok := p.table(k, v); ok {
			for _, name := range sortedKeys(t) {
				members, _ := p.value(k.key(name), kindStrings, t[name])
				c.Profiles[name], _ = members.([]string)
			}
		}
	}
	var names []string // of the daemons, sorted
	if v, ok := raw["daemons"]; ok {
		k := keyPath{"daemons"}
		if t, ok := p.table(k, v); ok {
			names = sortedKeys(t)
			c.Daemons = make(map[string]*Daemon, len(names))
			for _, name := range names {
				c.Daemons[name] = p.daemon(&c.Supervisor, name, t[name])
			}
		}
	}
	c.Events = defaultEvents()
	if v, ok := raw["events"]; ok {
		k := keyPath{"events"}
		if t, ok := p.table(k, v); ok {
			decodeTable(p, k, t, eventsFields(), &c.Events)
			p.checkEventTypes(k.key("types"), c.Events.Types)
		}
	}
	if v, ok := raw["hooks"]; ok {
		c.Hooks = p.hooks(keyPath{"hooks"}, v, c.Events.Types)
	}
	if v, ok := raw["cluster"]; ok {
		c.Cluster = p.cluster(v)
	}
	p.checkReferences(c, names)
	p.checkPlacement(c, names)
	p.checkHookDaemons(c, names)
	return c
}

// table returns v as a table, or reports that it is not one.
func (p *parser) table(k keyPath, v any) (map[string]any, bool) {
	t, ok := v.(map[string]any)
	if !ok {
		p.typeError(k, "table", v)
	}
	return t, ok
}

// decodeTable decodes the keys of table t, at k, into dst as fields
// describes them, and reports unknown, missing and invalid keys. It skips
// the keys that have their own schema.
func decodeTable[T any](p *parser, k keyPath, t map[string]any, fields []field[T], dst *T) {
	var typos map[string]bool // known keys suggested for unknown ones
	for _, key := range sortedKeys(t) {
		kk := k.key(key)
		i := slices.IndexFunc(fields, func(f field[T]) bool { return f.key == key })
		if i < 0 {
			msg := fmt.Sprintf("unknown key %q", kk.String())
			if c := closest(key, fieldKeys(fields)); c != "" {
				if typos == nil {
					typos = make(map[string]bool)
				}
				msg += fmt.Sprintf(" (did you mean %q?)", c)
				typos[c] = true
			}
			p.errorAt(kk, msg)
			continue
		}
		f := fields[i]
		if f.set == nil {
			continue
		}
		v, ok := p.value(kk, f.kind, t[key])
		if !ok {
			continue
		}
		if f.check != nil {
			if err := f.check(v); err != nil {
				p.errorf(kk, "%v", err)
				continue
			}
		}
		f.set(dst, v)
	}
	for _, f := range fields {
		// A missing key that an unknown one was suggested for has been
		// reported: "comand" (did you mean "command"?).
		if !f.required {
			continue
		}
		if _, ok := t[f.key]; !ok && !typos[f.key] {
			p.errorf(k, "missing required key %q", f.key)
		}
	}
}

// fieldKeys returns the keys of fields, in order.
func fieldKeys[T any](fields []field[T]) []string {
	keys := make([]string, len(fields))
	for i, f := range fields {
		keys[i] = f.key
	}
	return keys
}

// value decodes v, the value at k, as a value of kind kd, or reports why it
// cannot.
func (p *parser) value(k keyPath, kd kind, v any) (any, bool) {
	switch kd {
	case kindString:
		if s, ok := v.(string); ok {
			return s, true
		}
		p.typeError(k, "string", v)
	case kindBool:
		if b, ok := v.(bool); ok {
			return b, true
		}
		p.typeError(k, "boolean", v)
	case kindInt:
		n, ok := v.(int64)
		if !ok {
			p.typeError(k, "integer", v)
			break
		}
		if int64(int(n)) != n {
			p.errorf(k, "%d is out of range", n)
			break
		}
		return int(n), true
	case kindDuration:
		s, ok := v.(string)
		if !ok {
			p.typeError(k, `duration string such as "10s"`, v)
			break
		}
		d, err := ParseDuration(s)
		if err != nil {
			p.errorf(k, "%v", err)
			break
		}
		return d, true
	case kindSize:
		switch v := v.(type) {
		case int64:
			if v < 0 {
				p.errorf(k, "invalid size %d: must not be negative", v)
				return nil, false
			}
			return v, true
		case string:
			n, err := ParseSize(v)
			if err != nil {
				p.errorf(k, "%v", err)
				return nil, false
			}
			return n, true
		}
		p.typeError(k, `size such as "10MB"`, v)
	case kindSignal:
		s, ok := v.(string)
		if !ok {
			p.typeError(k, `signal name such as "SIGTERM"`, v)
			break
		}
		sig, err := ParseSignal(s)
		if err != nil {
			p.errorf(k, "%v", err)
			break
		}
		return sig, true
	case kindPath:
		s, ok := v.(string)
		if !ok {
			p.typeError(k, "string", v)
			break
		}
		if s == "" {
			p.errorf(k, "must not be empty")
			break
		}
		return joinDir(p.dir, s), true
	case kindStrings:
		if list, ok := p.strings(k, v); ok {
			return list, true
		}
	case kindRlimits:
		return p.rlimits(k, v)
	case kindUmask:
		switch m := v.(type) {
		case int64:
			if m >= 0 && m <= 0o777 {
				return uint32(m), true
			}
		case string:
			if n, err := strconv.ParseUint(m, 8, 32); err == nil && n <= 0o777 {
				return uint32(n), true
			}
		default:
			p.typeError(k, `octal string such as "022"`, v)
			return nil, false
		}
		p.errorf(k, "invalid umask %v: want an octal mode from 000 to 777", v)
	case kindFraction:
		var f float64
		switch n := v.(type) {
		case float64:
			f = n
		case int64:
			f = float64(n)
		default:
			p.typeError(k, "number from 0 to 1", v)
			return nil, false
		}
		if f < 0 || f > 1 || f != f {
			p.errorf(k, "must be from 0 to 1, got %v", f)
			break
		}
		return f, true
	case kindCommand:
		return p.command(k, v)
	case kindStringMap:
		t, ok := v.(map[string]any)
		if !ok {
			p.typeError(k, "table of strings", v)
			break
		}
		m := make(map[string]string, len(t))
		for _, name := range sortedKeys(t) {
			s, ok := t[name].(string)
			if !ok {
				p.typeError(k.key(name), "string", t[name])
				continue
			}
			m[name] = s
		}
		if len(m) < len(t) {
			break
		}
		if len(m) == 0 {
			m = nil
		}
		return m, true
	default:
		panic(fmt.Sprintf("config: kind %d has no decoder", kd))
	}
	return nil, false
}

// strings decodes an array of strings; an empty one gives nil.
func (p *parser) strings(k keyPath, v any) ([]string, bool) {
	arr, ok := v.([]any)
	if !ok {
		p.typeError(k, "array of strings", v)
		return nil, false
	}
	var list []string
	if len(arr) > 0 {
		list = make([]string, 0, len(arr))
	}
	for i, e := range arr {
		s, ok := e.(string)
		if !ok {
			p.typeError(k.index(i), "string", e)
			continue
		}
		list = append(list, s)
	}
	return list, len(list) == len(arr)
}

// rlimits decodes a table of resource limits: each a non-negative integer,
// or "unlimited".
func (p *parser) rlimits(k keyPath, v any) (any, bool) {
	t, ok := v.(map[string]any)
	if !ok {
		p.typeError(k, "table of limits", v)
		return nil, false
	}
	limits := make(map[string]uint64, len(t))
	good := true
	for _, name := range sortedKeys(t) {
		ek := k.key(name)
		if _, known := RlimitByName(name); !known {
			p.errorf(ek, "unknown resource limit %q (have: %s)", name, strings.Join(RlimitNames(), ", "))
			good = false
			continue
		}
		switch n := t[name].(type) {
		case int64:
			if n < 0 {
				p.errorf(ek, "must be >= 0, got %d", n)
				good = false
				continue
			}
			limits[name] = uint64(n)
		case string:
			if n != "unlimited" {
				p.errorf(ek, "invalid limit %q: want an integer or \"unlimited\"", n)
				good = false
				continue
			}
			limits[name] = Unlimited
		default:
			p.typeError(ek, `integer or "unlimited"`, t[name])
			good = false
		}
	}
	return limits, good
}

// command decodes a command: a string run by /bin/sh -c, or an argv whose
// first element, when relative and containing a slash, is resolved against
// the file's directory.
func (p *parser) command(k keyPath, v any) (any, bool) {
	if s, ok := v.(string); ok {
		if strings.TrimSpace(s) == "" {
			p.errorf(k, "empty command")
			return nil, false
		}
		return []string{"/bin/sh", "-c", s}, true
	}
	if _, ok := v.([]any); !ok {
		p.typeError(k, "string or array of strings", v)
		return nil, false
	}
	argv, ok := p.strings(k, v)
	if !ok {
		return nil, false
	}
	if len(argv) == 0 || strings.TrimSpace(argv[0]) == "" {
		p.errorf(k, "empty command")
		return nil, false
	}
	if strings.Contains(argv[0], "/") {
		argv[0] = joinDir(p.dir, argv[0])
	}
	return argv, true
}

// joinDir returns path made absolute against dir, and clean.
func joinDir(dir, path string) string {
	if filepath.IsAbs(path) {
		return filepath.Clean(path)
	}
	return filepath.Join(dir, path)
}

// daemon decodes [daemons.NAME]. It returns a daemon even when v is not a
// table, so that references to it are not reported as well.
func (p *parser) daemon(s *Supervisor, name string, v any) *Daemon {
	k := keyPath{"daemons", name}
	d := defaultDaemon(name, p.dir, s)
	d.Pos = p.position(k)
	switch {
	case strings.Contains(name, "@"):
		p.errorAt(k, fmt.Sprintf("invalid daemon name %q: \"@\" is reserved for instances (set instances = N to run NAME@0 ... NAME@N-1)", name))
	case !validName(name):
		p.errorAt(k, fmt.Sprintf("invalid daemon name %q: must match %s", name, namePattern))
	case slices.Contains(reservedNames(), name):
		p.errorAt(k, fmt.Sprintf("daemon name %q is reserved: <log_dir>/%s.log is ringsup's own", name, name))
	}
	t, ok := p.table(k, v)
	if !ok {
		return d
	}
	if p.daemonFields == nil {
		p.daemonFields = daemonFields()
	}
	decodeTable(p, k, t, p.daemonFields, d)
	p.checkBackoff(k, t, d.BackoffMin, d.BackoffMax)
	if len(d.EnvFile) > 0 {
		p.envFiles(k.key("env_file"), d)
	}
	if _, ok := t["watchdog"]; ok && d.Ready != "notify" && !p.bad[k.key("ready").id()] {
		p.errorf(k.key("watchdog"), "watchdog needs ready = \"notify\"")
	}
	if v, ok := t["health"]; ok {
		hk := k.key("health")
		if ht, ok := p.table(hk, v); ok {
			d.Health = defaultHealth(s)
			if p.healthFields == nil {
				p.healthFields = healthFields()
			}
			decodeTable(p, hk, ht, p.healthFields, d.Health)
			p.checkProbes(hk, ht)
		}
	}
	p.checkInstances(k, t, d)
	return d
}

// checkBackoff reports backoff_min > backoff_max in the table t at k, at
// whichever of the two keys t sets. When t sets neither, the values came
// from [supervisor], which reports them.
func (p *parser) checkBackoff(k keyPath, t map[string]any, lo, hi time.Duration) {
	if lo <= hi {
		return
	}
	kmin, kmax := k.key("backoff_min"), k.key("backoff_max")
	if p.bad[kmin.id()] || p.bad[kmax.id()] {
		return
	}
	if _, ok := t["backoff_min"]; ok {
		p.errorf(kmin, "%v is greater than backoff_max %v", lo, hi)
	} else if _, ok := t["backoff_max"]; ok {
		p.errorf(kmax, "%v is less than backoff_min %v", hi, lo)
	}
}

// checkProbes reports a health table at k without exactly one probe, at the
// health table or at the second probe.
func (p *parser) checkProbes(k keyPath, t map[string]any) {
	switch set := p.keysSet(k, t, probeKeys()); {
	case len(set) == 0:
		p.errorf(k, "no probe: set one of exec, http or tcp")
	case len(set) > 1:
		p.errorAt(k.key(set[1]), fmt.Sprintf("%s: more than one probe (%s): set only one", k, strings.Join(set, ", ")))
	}
}

// keysSet returns which of keys the table t at k has, in the order they
// appear in the file.
func (p *parser) keysSet(k keyPath, t map[string]any, keys []string) []string {
	var set []string
	for _, key := range keys {
		if _, ok := t[key]; ok {
			set = append(set, key)
		}
	}
	slices.SortStableFunc(set, func(a, b string) int {
		pa, pb := p.position(k.key(a)), p.position(k.key(b))
		if pa.Line != pb.Line {
			return pa.Line - pb.Line
		}
		return pa.Col - pb.Col
	})
	return set
}

// hooks decodes [[hooks]], or hooks = [{...}].
// custom are the custom event types of [events], which hooks may name too.
func (p *parser) hooks(k keyPath, v any, custom []string) []Hook {
	var elems []any
	switch v := v.(type) {
	case []map[string]any:
		for _, t := range v {
			elems = append(elems, t)
		}
	case []any:
		elems = v
	default:
		p.typeError(k, "array of tables", v)
	}
	var hooks []Hook
	for i, e := range elems {
		ek := k.index(i)
		t, ok := p.table(ek, e)
		if !ok {
			continue
		}
		h := Hook{Timeout: 10 * time.Second}
		decodeTable(p, ek, t, hookFields(), &h)
		p.checkHookAction(ek, t)
		known := append(eventtype.All(), custom...)
		for _, ev := range h.Events {
			if !slices.Contains(known, ev) {
				p.errorf(ek.key("events"), "unknown event %q%s", ev, suggest(ev, known))
			}
		}
		hooks = append(hooks, h)
	}
	return hooks
}

// checkReferences reports names that refer to nothing: unknown dependencies,
// profile members and default profile, and dependency cycles. names are
// c.Names().
func (p *parser) checkReferences(c *Config, names []string) {
	for _, name := range names {
		k := keyPath{"daemons", name, "depends_on"}
		for _, dep := range c.Daemons[name].DependsOn {
			if _, ok := c.Daemons[dep]; !ok {
				others := slices.DeleteFunc(slices.Clone(names), func(n string) bool { return n == name })
				p.errorf(k, "unknown daemon %q%s", dep, suggest(dep, others))
			}
		}
	}
	for _, profile := range c.ProfileNames() {
		for _, m := range c.Profiles[profile] {
			if _, ok := c.Daemons[m]; !ok {
				p.errorf(keyPath{"profiles", profile}, "unknown daemon %q%s", m, suggest(m, names))
			}
		}
	}
	if dp := c.Supervisor.DefaultProfile; dp != "" {
		if _, ok := c.Profiles[dp]; !ok {
			p.errorf(keyPath{"supervisor", "default_profile"}, "%v", &UnknownProfileError{Name: dp, Have: c.ProfileNames()})
		}
	}
	// The graph the config carries, built once; the supervisor orders its
	// daemons by it and Select walks it.
	c.graph = depgraph.New(c.Deps())
	if len(c.graph.Cycle()) < 2 {
		return
	}
	// Report every cycle: break each one found at its first edge and look
	// again. Each round removes an edge, so this ends. The graph leaves out
	// the daemons without dependencies: they are on no cycle, and the
	// depth-first search that finds one would only enter them and leave,
	// so the cycles found are the same.
	deps := make(map[string][]string)
	for name, d := range c.Daemons {
		if len(d.DependsOn) > 0 {
			deps[name] = slices.Clone(d.DependsOn)
		}
	}
	for {
		cycle := depgraph.New(deps).Cycle()
		if len(cycle) < 2 {
			break
		}
		p.errorAt(keyPath{"daemons", cycle[0], "depends_on"}, "dependency cycle: "+strings.Join(cycle, " -> "))
		deps[cycle[0]] = slices.DeleteFunc(deps[cycle[0]], func(d string) bool { return d == cycle[1] })
	}
}
