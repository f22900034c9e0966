package supervisor

import (
	"maps"
	"slices"

	"github.com/hashicorp/go-hclog"

	"github.com/ringrift/ringsup/config"
)

// scaleOp is the request of a Scale.
type scaleOp struct {
	name string
	n    int
}

// scaled is a count set by Scale: n instances, while the file says file.
type scaled struct {
	file, n int
}

// scaleCounts are the counts set by Scale, by template name, which
// reloads keep (pendingChanges.scales).
type scaleCounts map[string]scaled

// apply returns cur, the running config, with the scale op applied, and
// records the count so that reloads keep it.
func (c *scaleCounts) apply(cur *config.Config, op *scaleOp) (*config.Config, error) {
	cfg, err := cur.Scaled(op.name, op.n)
	if err != nil {
		return nil, err
	}
	if *c == nil {
		*c = make(scaleCounts)
	}
	sc, ok := (*c)[op.name]
	if !ok {
		sc.file = cur.Templates[op.name].Instances
	}
	sc.n = op.n
	(*c)[op.name] = sc
	return cfg, nil
}

// keep returns cfg, a config just read from the file, with the counts
// set by Scale applied to the daemons whose instances value in the file
// has not changed since; the others are forgotten. So is a count the new
// file makes invalid (a probe address out of range for an instance), with
// a warning to log: the file's count applies.
func (c scaleCounts) keep(cfg *config.Config, log hclog.Logger) *config.Config {
	for _, name := range slices.Sorted(maps.Keys(c)) {
		sc := c[name]
		t, ok := cfg.Templates[name]
		if !ok || t.Instances != sc.file {
			delete(c, name)
			continue
		}
		scaledCfg, err := cfg.Scaled(name, sc.n)
		if err != nil {
			log.Warn("count of instances set by ctl scale dropped: the file's applies", "daemon", name, "instances", t.Instances, "error", err)
			delete(c, name)
			continue
		}
		cfg = scaledCfg
	}
	return cfg
}
