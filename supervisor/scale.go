package supervisor

import (
	"maps"
	"slices"

	"github.com/ringrift/ringsup/config"
)

// Scale sets how many instances the daemon name (one with an instances
// key) runs, as `ctl scale` does: the new instances start if the daemon
// is in the active profile, the highest-numbered ones stop beyond n, and
// the others are left alone, same process. It is applied like a reload
// of the config with instances = n (it waits for what is stopping, and
// publishes CONFIG_RELOADED) and returns what changed.
//
// The count holds until a reload finds that the file's instances value
// for name changed since the scale: then the file wins. The file itself
// is never written.
func (s *Supervisor) Scale(name string, n int) (ReloadSummary, error) {
	r := &reloadRequest{scale: &scaleOp{name: name, n: n}, reply: make(chan reloadReply, 1)}
	if err := s.call(r); err != nil {
		return ReloadSummary{}, err
	}
	rep := <-r.reply
	return rep.summary, rep.err
}

// scaleOp is the request of a Scale.
type scaleOp struct {
	name string
	n    int
}

// scaled is a count set by Scale: n instances, while the file says file.
type scaled struct {
	file, n int
}

// scaledConfig returns the running config with the scale op applied, and
// records the count so that reloads keep it.
func (s *Supervisor) scaledConfig(op *scaleOp) (*config.Config, error) {
	cfg, err := s.cfg.Scaled(op.name, op.n)
	if err != nil {
		return nil, err
	}
	if s.changes.scales == nil {
		s.changes.scales = make(map[string]scaled)
	}
	sc, ok := s.changes.scales[op.name]
	if !ok {
		sc.file = s.cfg.Templates[op.name].Instances
	}
	sc.n = op.n
	s.changes.scales[op.name] = sc
	return cfg, nil
}

// keepScales returns cfg, a config just read from the file, with the
// counts set by Scale applied to the daemons whose instances value in the
// file has not changed since; the others are forgotten. So is a count the
// new file makes invalid (a probe address out of range for an instance),
// with a warning: the file's count applies.
func (s *Supervisor) keepScales(cfg *config.Config) *config.Config {
	for _, name := range slices.Sorted(maps.Keys(s.changes.scales)) {
		sc := s.changes.scales[name]
		t, ok := cfg.Templates[name]
		if !ok || t.Instances != sc.file {
			delete(s.changes.scales, name)
			continue
		}
		scaledCfg, err := cfg.Scaled(name, sc.n)
		if err != nil {
			s.log.Warn("count of instances set by ctl scale dropped: the file's applies", "daemon", name, "instances", t.Instances, "error", err)
			delete(s.changes.scales, name)
			continue
		}
		cfg = scaledCfg
	}
	return cfg
}
