package config

import (
	"maps"
	"slices"
	"testing"
)

const instancesFile = `
[profiles]
workers = ["selfplay"]

[daemons.event_router]
command = ["sleep", "1"]

[daemons.selfplay]
command = ["./bin/selfplay", "--gpu", "${RINGSUP_INSTANCE}", "--cost", "$$5", "$HOME"]
instances = 3
working_dir = "work/${RINGSUP_INSTANCE}"
env = { CUDA_VISIBLE_DEVICES = "${RINGSUP_INSTANCE}", PORT = "90${RINGSUP_INSTANCE}0" }
depends_on = ["event_router"]
health = { exec = ["probe", "--gpu=${RINGSUP_INSTANCE}"] }

[daemons.training]
command = "train --workers 3"
depends_on = ["selfplay"]
`

func TestInstancesExpanded(t *testing.T) {
	c, err := Parse("/srv/node/ringsup.toml", []byte(instancesFile))
	if err != nil {
		t.Fatal(err)
	}
	wantNames := []string{"event_router", "selfplay@0", "selfplay@1", "selfplay@2", "training"}
	if got := c.Names(); !slices.Equal(got, wantNames) {
		t.Errorf("Names() = %q, want %q", got, wantNames)
	}
	if got := c.Tables(); !slices.Equal(got, []string{"event_router", "selfplay", "training"}) {
		t.Errorf("Tables() = %q", got)
	}
	d := c.Daemons["selfplay@2"]
	if d.Template != "selfplay" || d.Instance != 2 || d.Instances != 3 {
		t.Errorf("selfplay@2: Template, Instance, Instances = %q, %d, %d, want selfplay, 2, 3", d.Template, d.Instance, d.Instances)
	}
	wantCmd := []string{"/srv/node/bin/selfplay", "--gpu", "2", "--cost", "$5", "$HOME"}
	if !slices.Equal(d.Command, wantCmd) {
		t.Errorf("selfplay@2 command = %q, want %q", d.Command, wantCmd)
	}
	if d.WorkingDir != "/srv/node/work/2" {
		t.Errorf("selfplay@2 working_dir = %q, want /srv/node/work/2", d.WorkingDir)
	}
	wantEnv := map[string]string{"CUDA_VISIBLE_DEVICES": "2", "PORT": "9020", InstanceVar: "2"}
	if !maps.Equal(d.Env, wantEnv) {
		t.Errorf("selfplay@2 env = %v, want %v", d.Env, wantEnv)
	}
	if got := d.Health.Exec; !slices.Equal(got, []string{"probe", "--gpu=2"}) {
		t.Errorf("selfplay@2 health.exec = %q", got)
	}
	// The template keeps what was written; instance 0 has its own copy.
	if tpl := c.Table("selfplay"); tpl.Command[2] != "${RINGSUP_INSTANCE}" || c.Daemons["selfplay@0"].Command[2] != "0" {
		t.Errorf("template command = %q, instance 0 = %q", tpl.Command, c.Daemons["selfplay@0"].Command)
	}
	if got := c.Deps()["training"]; !slices.Equal(got, []string{"selfplay@0", "selfplay@1", "selfplay@2"}) {
		t.Errorf("Deps()[training] = %q, want every instance", got)
	}
	if got := c.TableDeps()["training"]; !slices.Equal(got, []string{"selfplay"}) {
		t.Errorf("TableDeps()[training] = %q", got)
	}
	if got := c.Daemons["training"].DependsOn; !slices.Equal(got, []string{"selfplay"}) {
		t.Errorf("training DependsOn = %q, want as written", got)
	}
	_, active, err := c.Select("workers")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"event_router", "selfplay@0", "selfplay@1", "selfplay@2"}; !slices.Equal(active, want) {
		t.Errorf("Select(workers) = %q, want %q", active, want)
	}
}

func TestScaled(t *testing.T) {
	c, err := Parse("/srv/node/ringsup.toml", []byte(instancesFile))
	if err != nil {
		t.Fatal(err)
	}
	up, err := c.Scaled("selfplay", 5)
	if err != nil {
		t.Fatal(err)
	}
	d := Compare(c, up)
	if !slices.Equal(d.Added, []string{"selfplay@3", "selfplay@4"}) || len(d.Removed) != 0 ||
		len(d.Runtime) != 0 || len(d.Policy) != 0 {
		t.Errorf("Compare(3, 5 instances) = %+v, want selfplay@3 and @4 added, nothing else", d)
	}
	if got := up.Daemons["selfplay@4"].Command[2]; got != "4" {
		t.Errorf("selfplay@4 command[2] = %q, want 4", got)
	}
	if n := len(c.Instances("selfplay")); n != 3 {
		t.Errorf("Scaled changed the original: %d instances", n)
	}
	down, err := up.Scaled("selfplay", 1)
	if err != nil {
		t.Fatal(err)
	}
	d = Compare(up, down)
	if !slices.Equal(d.Removed, []string{"selfplay@1", "selfplay@2", "selfplay@3", "selfplay@4"}) || len(d.Added) != 0 ||
		!slices.Equal(d.Unchanged, []string{"event_router", "selfplay@0", "training"}) {
		t.Errorf("Compare(5, 1 instances) = %+v", d)
	}
	for _, tc := range []struct {
		name string
		n    int
	}{{"selfplay", 0}, {"selfplay", MaxInstances + 1}, {"training", 2}, {"nope", 2}} {
		if _, err := c.Scaled(tc.name, tc.n); err == nil {
			t.Errorf("Scaled(%q, %d) = nil error", tc.name, tc.n)
		}
	}
}

func TestExpandInstance(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"plain", "plain"},
		{"${RINGSUP_INSTANCE}", "7"},
		{"gpu${RINGSUP_INSTANCE}x${RINGSUP_INSTANCE}", "gpu7x7"},
		{"$$", "$"},
		{"$${RINGSUP_INSTANCE}", "${RINGSUP_INSTANCE}"},
		{"$$${RINGSUP_INSTANCE}", "$7"},
		{"$$$${RINGSUP_INSTANCE}", "$${RINGSUP_INSTANCE}"},
		{"$HOME and $1 and $", "$HOME and $1 and $"},
	} {
		if err := checkExpansion(tc.in); err != nil {
			t.Errorf("checkExpansion(%q) = %v", tc.in, err)
		}
		if got := expandInstance(tc.in, 7); got != tc.want {
			t.Errorf("expandInstance(%q, 7) = %q, want %q", tc.in, got, tc.want)
		}
	}
	for _, bad := range []string{"${HOME}", "${}", "${RINGSUP_INSTANCE", "x${ RINGSUP_INSTANCE}"} {
		if err := checkExpansion(bad); err == nil {
			t.Errorf("checkExpansion(%q) = nil, want an error", bad)
		}
	}
	// It used to loop forever on a ${ without its }, which a probe
	// address is expanded with before it is checked.
	if got := expandInstance("1:1${RINGSUP_INSTANCE000", 0); got != "1:1${RINGSUP_INSTANCE000" {
		t.Errorf("expandInstance of an unterminated ${ = %q, want it as written", got)
	}
}

func TestInstanceNames(t *testing.T) {
	for _, tc := range []struct {
		in   string
		name string
		n    int
		ok   bool
	}{
		{"selfplay@3", "selfplay", 3, true},
		{"selfplay@0", "selfplay", 0, true},
		{"selfplay@10000", "selfplay", 10000, true},
		{"selfplay", "selfplay", 0, false},
		{"selfplay@", "selfplay@", 0, false},
		{"selfplay@03", "selfplay@03", 0, false},
		{"selfplay@-1", "selfplay@-1", 0, false},
		{"selfplay@x", "selfplay@x", 0, false},
	} {
		name, n, ok := SplitInstance(tc.in)
		if name != tc.name || n != tc.n || ok != tc.ok {
			t.Errorf("SplitInstance(%q) = %q, %d, %v, want %q, %d, %v", tc.in, name, n, ok, tc.name, tc.n, tc.ok)
		}
		if ok && InstanceName(name, n) != tc.in {
			t.Errorf("InstanceName(%q, %d) = %q, want %q", name, n, InstanceName(name, n), tc.in)
		}
	}
	names := []string{"selfplay@10", "a", "selfplay@2", "selfplay@0", "selfplay_x", "training"}
	slices.SortFunc(names, CompareNames)
	if want := []string{"a", "selfplay@0", "selfplay@2", "selfplay@10", "selfplay_x", "training"}; !slices.Equal(names, want) {
		t.Errorf("sorted by CompareNames = %q, want %q", names, want)
	}
}

func TestInstanceProbeAddresses(t *testing.T) {
	c, err := Parse("/srv/node/ringsup.toml", []byte(`
[daemons.web]
command = ["./web", "--port", "1${RINGSUP_INSTANCE}000"]
instances = 2
health = { tcp = "127.0.0.1:1${RINGSUP_INSTANCE}000" }
`))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Daemons["web@1"].Health.TCP; got != "127.0.0.1:11000" {
		t.Errorf("web@1 health.tcp = %q, want 127.0.0.1:11000", got)
	}
	up, err := c.Scaled("web", 10)
	if err != nil {
		t.Fatal(err)
	}
	if got := up.Daemons["web@9"].Health.TCP; got != "127.0.0.1:19000" {
		t.Errorf("web@9 health.tcp = %q, want 127.0.0.1:19000", got)
	}
	// Instance 10 would probe port 110000.
	if _, err := c.Scaled("web", 11); err == nil {
		t.Errorf("Scaled(web, 11) = nil error, want instance 10's address refused")
	}
}
