package config

import (
	"maps"
	"testing"
)

func TestEnvFile(t *testing.T) {
	cfg, err := Load("testdata/env_file.toml")
	if err != nil {
		t.Fatal(err)
	}
	app := cfg.Daemons["app"]
	want := map[string]string{
		"LOG_LEVEL": "debug", // the later file wins
		"DB_URL":    "postgres://db:5432/app?x=1",
		"GREETING":  "hello # not a comment",
		"PLAIN":     "from env", // env wins over the files
		"MULTI":     "line1\nline2",
		"EMPTY":     "",
	}
	if !maps.Equal(app.Env, want) {
		t.Errorf("env = %q\nwant %q", app.Env, want)
	}
	if app.Type != TypeOneshot || app.BackoffJitter != 0.2 {
		t.Errorf("type %q jitter %v, want oneshot 0.2 (inherited)", app.Type, app.BackoffJitter)
	}
}

func TestParseEnvFile(t *testing.T) {
	for _, tt := range []struct {
		in      string
		want    map[string]string
		wantErr bool
	}{
		{"A=1\nB=2\n", map[string]string{"A": "1", "B": "2"}, false},
		{"# c\n\nexport A = 'x y'\n", map[string]string{"A": "x y"}, false},
		{`A="a \"q\" b"`, map[string]string{"A": `a "q" b`}, false},
		{"A=1 # note\nA=2", map[string]string{"A": "2"}, false},
		{"NOEQUALS\n", nil, true},
		{`A="open`, nil, true},
		{`A='open`, nil, true},
	} {
		got, err := ParseEnvFile([]byte(tt.in))
		if (err != nil) != tt.wantErr || (!tt.wantErr && !maps.Equal(got, tt.want)) {
			t.Errorf("ParseEnvFile(%q) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}
