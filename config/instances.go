package config

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/ringrift/ringsup/depgraph"
)

// InstanceVar is the variable that holds an instance's number: it is set in
// the instance's environment, and ${RINGSUP_INSTANCE} is replaced by the
// number in its command, env values and working_dir.
const InstanceVar = "RINGSUP_INSTANCE"

// MaxInstances is the most instances a daemon may have.
const MaxInstances = 10000

// InstanceName returns the name of instance n of the daemon name: "name@n",
// systemd's spelling of a template's instance.
func InstanceName(name string, n int) string {
	return name + "@" + strconv.Itoa(n)
}

// SplitInstance splits an instance name "name@n" into name and n. ok is
// false when s is not one: no "@", or no decimal number after it.
func SplitInstance(s string) (name string, n int, ok bool) {
	name, num, found := strings.Cut(s, "@")
	if !found || num == "" || (len(num) > 1 && num[0] == '0') {
		return s, 0, false
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 0 {
		return s, 0, false
	}
	return name, n, true
}

// CompareNames orders daemon names as `ctl status` lists them: by name,
// and the instances of one daemon by number (selfplay@2 before
// selfplay@10).
func CompareNames(a, b string) int {
	an, ai, aok := SplitInstance(a)
	bn, bi, bok := SplitInstance(b)
	if aok && bok && an == bn {
		return cmp.Compare(ai, bi)
	}
	return strings.Compare(a, b)
}

// Instances returns the names of what name stands for: the instances of
// the daemon name in order when it has an instances key, or else name
// itself.
func (c *Config) Instances(name string) []string {
	t, ok := c.Templates[name]
	if !ok {
		return []string{name}
	}
	names := make([]string, t.Instances)
	for i := range names {
		names[i] = InstanceName(name, i)
	}
	return names
}

// Tables returns the names of the [daemons.NAME] tables, sorted: the
// daemons as written, each with instances counted once.
func (c *Config) Tables() []string {
	seen := make(map[string]bool, len(c.Daemons))
	for _, d := range c.Daemons {
		seen[d.Template] = true
	}
	return slices.Sorted(maps.Keys(seen))
}

// TablesOf returns the tables of names, daemon names such as Select
// returns: each daemon's Template, once, in the order of names.
func (c *Config) TablesOf(names []string) []string {
	var tables []string
	seen := make(map[string]bool)
	for _, n := range names {
		t := n
		if d, ok := c.Daemons[n]; ok {
			t = d.Template
		}
		if !seen[t] {
			seen[t] = true
			tables = append(tables, t)
		}
	}
	return tables
}

// Table returns the settings of the table name as written: for a daemon
// with instances, before ${RINGSUP_INSTANCE} is expanded; nil if there is
// no such table.
func (c *Config) Table(name string) *Daemon {
	if t, ok := c.Templates[name]; ok {
		return t
	}
	if d, ok := c.Daemons[name]; ok && d.Instances == 0 {
		return d
	}
	return nil
}

// Scaled returns a copy of c in which the daemon name has n instances.
// The instances both have are the same *Daemon in both configs. It fails
// if name has no instances key or n is out of range.
func (c *Config) Scaled(name string, n int) (*Config, error) {
	t, ok := c.Templates[name]
	if !ok {
		if _, plain := c.Daemons[name]; plain {
			return nil, fmt.Errorf("cannot scale %q: it has no instances key in %s", name, c.Path)
		}
		return nil, fmt.Errorf("cannot scale %q: unknown daemon", name)
	}
	if n < 1 || n > MaxInstances {
		return nil, fmt.Errorf("cannot scale %q to %d: instances must be from 1 to %d", name, n, MaxInstances)
	}
	if err := t.checkProbeAddrs(t.Instances, n); err != nil {
		return nil, fmt.Errorf("cannot scale %q to %d: health: %w", name, n, err)
	}
	s := *c
	s.Daemons = maps.Clone(c.Daemons)
	s.Templates = maps.Clone(c.Templates)
	nt := *t
	nt.Instances = n
	s.Templates[name] = &nt
	for i := n; i < t.Instances; i++ {
		delete(s.Daemons, InstanceName(name, i))
	}
	for i := range n {
		iname := InstanceName(name, i)
		if d, ok := s.Daemons[iname]; ok {
			// Instances is the daemon's, not the instance's: the
			// survivors keep their record, with the new count.
			dd := *d
			dd.Instances = n
			s.Daemons[iname] = &dd
			continue
		}
		s.Daemons[iname] = nt.instance(i)
	}
	s.graph = depgraph.New(s.Deps())
	return &s, nil
}

// expandInstances replaces each daemon of c with an instances key by its
// instances, and records it in c.Templates. Every string it expands has
// passed checkExpansion.
func (c *Config) expandInstances() {
	c.Templates = make(map[string]*Daemon)
	for name, d := range c.Daemons {
		if d.Instances > 0 {
			c.Templates[name] = d
		}
	}
	for name, d := range c.Templates {
		delete(c.Daemons, name)
		for i := range d.Instances {
			c.Daemons[InstanceName(name, i)] = d.instance(i)
		}
	}
	if len(c.Templates) > 0 {
		c.graph = depgraph.New(c.Deps())
	}
}

// instance returns instance n of the daemon t, which has an instances key.
func (t *Daemon) instance(n int) *Daemon {
	d := *t
	d.Name, d.Instance = InstanceName(t.Name, n), n
	d.Command = expandAll(t.Command, n)
	d.WorkingDir = expandInstance(t.WorkingDir, n)
	d.Env = maps.Clone(t.Env)
	if d.Env == nil {
		d.Env = make(map[string]string, 1)
	}
	for _, k := range t.instanceEnv {
		d.Env[k] = expandInstance(t.Env[k], n)
	}
	d.Env[InstanceVar] = strconv.Itoa(n)
	if t.Health != nil {
		h := *t.Health
		h.Exec = expandAll(h.Exec, n)
		h.HTTP, h.TCP = expandInstance(h.HTTP, n), expandInstance(h.TCP, n)
		d.Health = &h
	}
	return &d
}

// The probe address checks of [daemons.NAME.health]. An address with
// ${RINGSUP_INSTANCE} is checked as instance 0's here, and as each
// instance's by checkProbeAddrs once the table is known to have instances.

func probeURL(v any) error  { return httpURL(expandInstance(v.(string), 0)) }
func probeAddr(v any) error { return hostPort(expandInstance(v.(string), 0)) }

// checkProbeAddrs reports the first of instances from .. to-1 of t whose
// http or tcp probe is not a valid address once expanded, such as a port
// "90${RINGSUP_INSTANCE}0" beyond 65535.
func (t *Daemon) checkProbeAddrs(from, to int) error {
	h := t.Health
	if h == nil || !strings.Contains(h.HTTP+h.TCP, "${") {
		return nil
	}
	for i := from; i < to; i++ {
		var err error
		if h.HTTP != "" {
			err = httpURL(expandInstance(h.HTTP, i))
		} else {
			err = hostPort(expandInstance(h.TCP, i))
		}
		if err != nil {
			return fmt.Errorf("instance %d: %w", i, err)
		}
	}
	return nil
}

func expandAll(list []string, n int) []string {
	if list == nil {
		return nil
	}
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = expandInstance(s, n)
	}
	return out
}

// expandInstance returns s with ${RINGSUP_INSTANCE} replaced by n and $$
// by $. Once s has passed checkExpansion, every ${...} is that one; before
// (a probe address is checked as instance 0's while its table is being
// decoded) any ${...} is replaced, and a ${ without its } is kept.
func expandInstance(s string, n int) string {
	if !strings.Contains(s, "$") {
		return s
	}
	num := strconv.Itoa(n)
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] != '$' || i+1 == len(s):
			b.WriteByte(s[i])
		case s[i+1] == '$':
			b.WriteByte('$')
			i++
		case s[i+1] == '{':
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				b.WriteString(s[i:])
				return b.String()
			}
			b.WriteString(num)
			i += end
		default:
			b.WriteByte('$')
		}
	}
	return b.String()
}

// errExpansion is the start of every error of checkExpansion.
var errExpansion = errors.New("only ${" + InstanceVar + "} is expanded")

// checkExpansion reports a ${...} in s of anything but RINGSUP_INSTANCE,
// and a ${ without its }. A $ before anything else stays as written; $$ is
// a literal $.
func checkExpansion(s string) error {
	for i := 0; i < len(s)-1; i++ {
		if s[i] != '$' {
			continue
		}
		switch s[i+1] {
		case '$':
			i++
		case '{':
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				return fmt.Errorf("unterminated %q: %w (write $$ for a literal $)", s[i:], errExpansion)
			}
			if v := s[i+2 : i+end]; v != InstanceVar {
				return fmt.Errorf("unknown variable ${%s}: %w (write $$ for a literal $)", v, errExpansion)
			}
			i += end
		}
	}
	return nil
}

// checkInstances checks the instances key of the daemon table t at k, and
// what is expanded in a daemon that has one.
func (p *parser) checkInstances(k keyPath, t map[string]any, d *Daemon) {
	if _, ok := t["instances"]; !ok {
		p.checkPlainProbe(k, d)
		return
	}
	check := func(k keyPath, s string) {
		if err := checkExpansion(s); err != nil {
			p.errorf(k, "%v", err)
		}
	}
	for i, s := range d.Command {
		ck := k.key("command")
		if _, isArray := t["command"].([]any); isArray {
			ck = ck.index(i)
		}
		check(ck, s)
	}
	if _, ok := t["working_dir"]; ok {
		check(k.key("working_dir"), d.WorkingDir)
	}
	if env, ok := t["env"].(map[string]any); ok {
		d.instanceEnv = slices.Sorted(maps.Keys(env))
		for _, name := range d.instanceEnv {
			check(k.key("env").key(name), d.Env[name])
		}
	}
	if d.Health != nil {
		hk := k.key("health")
		for i, s := range d.Health.Exec {
			check(hk.key("exec").index(i), s)
		}
		for key, s := range map[string]string{"http": d.Health.HTTP, "tcp": d.Health.TCP} {
			if s == "" || p.bad[hk.key(key).id()] {
				continue
			}
			if err := checkExpansion(s); err != nil {
				p.errorf(hk.key(key), "%v", err)
			} else if err := d.checkProbeAddrs(0, d.Instances); err != nil {
				p.errorf(hk.key(key), "%v", err)
			}
		}
	}
}

// checkPlainProbe reports ${RINGSUP_INSTANCE} in the http or tcp probe of
// d, a daemon without instances: the address would be used as written, and
// fail every probe.
func (p *parser) checkPlainProbe(k keyPath, d *Daemon) {
	if d.Instances > 0 || d.Health == nil {
		return
	}
	for key, s := range map[string]string{"http": d.Health.HTTP, "tcp": d.Health.TCP} {
		if strings.Contains(s, "${"+InstanceVar+"}") {
			p.errorf(k.key("health").key(key), "${%s} is expanded only in a daemon with instances", InstanceVar)
		}
	}
}
