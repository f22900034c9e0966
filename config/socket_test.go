package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// socketTests are configs and the socket socketOf finds in them, relative
// to the config's directory; "" when it must leave the file to Parse.
var socketTests = []struct {
	name, src, want string
}{
	{"no supervisor table", "[daemons.a]\ncommand = [\"sleep\", \"1\"]\n", "ringsup.sock"},
	{"no socket key", "[supervisor]\nlog_dir = \"logs\"\n[daemons.a]\ncommand = \"sleep 1\"\n", "ringsup.sock"},
	{"absolute", "[supervisor]\nsocket = \"/run/ringsup/x.sock\"\n", "/run/ringsup/x.sock"},
	{"relative", "[supervisor]\nsocket = \"run/x.sock\"\n", "run/x.sock"},
	{"literal and comment", "[supervisor] # the node\n\tsocket='r.sock' # here\r\n", "r.sock"},
	{"blanks in the header", "[ supervisor ]\nsocket = \"s.sock\"\n", "s.sock"},
	{"after the daemons", "[daemons.a]\ncommand = \"sleep 1\"\n\n[supervisor]\nsocket = \"late.sock\"\n", "late.sock"},
	{"quoted daemon name", "[daemons.\"a b\"]\ncommand = \"sleep 1\"\n[supervisor]\nsocket = \"q.sock\"\n", "q.sock"},
	{"dotted keys in a daemon", "[daemons.a]\ncommand = \"x\"\nhealth.tcp = \"127.0.0.1:1\"\n[supervisor]\nsocket = \"d.sock\"\n", "d.sock"},
	{
		"header-like lines in a multi-line array",
		"[supervisor]\nlog_dir = \"l\"\n[daemons.a]\ncommand = [\n  \"[supervisor]\",\n  'socket = \"no\"', # ]\n]\n[[hooks]]\nevents = [\"DAEMON_STARTED\"]\ncommand = [\"true\"]\n",
		"ringsup.sock",
	},
	{"multi-line strings", "[daemons.a]\ncommand = \"\"\"\n[supervisor]\nsocket = 'no' \\\"\"\"\n\"\"\"\"\n[daemons.b]\ncommand = '''\n[supervisor]\n'''''  # x\n[supervisor]\nsocket = \"m.sock\"\n", "m.sock"},
	{"a socket in another table", "[daemons.a]\ncommand = \"x\"\nsocket = \"no.sock\"\n", "ringsup.sock"},

	// Left to Parse.
	{"dotted top-level key", "supervisor.socket = \"/x.sock\"\n", ""},
	{"inline table", "supervisor = { socket = \"/x.sock\" }\n", ""},
	{"quoted key", "[supervisor]\n\"socket\" = \"/x.sock\"\n", ""},
	{"quoted table", "[\"supervisor\"]\nsocket = \"/x.sock\"\n", ""},
	{"escape", "[supervisor]\nsocket = \"/a\\u0062.sock\"\n", ""},
	{"not a string", "[supervisor]\nsocket = 5\n", ""},
	{"empty", "[supervisor]\nsocket = \"\"\n", ""},
	{"twice", "[supervisor]\nsocket = \"a\"\nsocket = \"b\"\n", ""},
	{"unclosed array", "[daemons.a]\ncommand = [\"x\"\n", ""},
	{"not a key", "[supervisor]\nsocket\n", ""},
}

func TestSocketOf(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range socketTests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := socketOf(dir, tt.src)
			want := ""
			if tt.want != "" {
				want = joinDir(dir, tt.want)
			}
			if !ok {
				got = ""
			}
			if got != want {
				t.Errorf("socketOf(%q) = %q, %v; want %q", tt.src, got, ok, want)
			}
			// Where the config is valid, Parse agrees.
			if cfg, err := Parse(filepath.Join(dir, "ringsup.toml"), []byte(tt.src)); err == nil && ok && cfg.Supervisor.Socket != got {
				t.Errorf("socketOf(%q) = %q; Parse sets %q", tt.src, got, cfg.Supervisor.Socket)
			}
		})
	}
}

// TestSocketPath: the quick path on real configs, Load's answer and errors
// where it cannot be sure.
func TestSocketPath(t *testing.T) {
	// The example and the test configs are read without Load.
	files := append(testFiles(t), "../examples/ringsup.toml")
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := Load(file)
		if err != nil {
			continue // a file of TestLoadFiles' errors
		}
		abs, _ := filepath.Abs(file)
		if got, ok := socketOf(filepath.Dir(abs), string(data)); !ok || got != cfg.Supervisor.Socket {
			t.Errorf("socketOf(%s) = %q, %v; want %q, true", file, got, ok, cfg.Supervisor.Socket)
		}
	}

	dir := t.TempDir()
	write := func(name, src string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	// Left to Load: its socket, and its errors.
	if got, err := SocketPath(write("dotted.toml", "supervisor.socket = \"x.sock\"\n")); err != nil || got != filepath.Join(dir, "x.sock") {
		t.Errorf("SocketPath(dotted.toml) = %q, %v; want %q", got, err, filepath.Join(dir, "x.sock"))
	}
	var list ErrorList
	if _, err := SocketPath(write("bad.toml", "[supervisor]\nsocket = 5\n")); !errors.As(err, &list) {
		t.Errorf("SocketPath(bad.toml) = %v, want Load's ErrorList", err)
	}
	if _, err := SocketPath(filepath.Join(dir, "none.toml")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("SocketPath(none.toml) = %v, want fs.ErrNotExist", err)
	}
	// The rest of the file is not checked: ctl still finds the socket of
	// a config that a reload would refuse.
	if got, err := SocketPath(write("elsewhere.toml", "[supervisor]\nsocket = \"e.sock\"\n[daemons.a]\nrestart = \"sometimes\"\n")); err != nil || got != filepath.Join(dir, "e.sock") {
		t.Errorf("SocketPath(elsewhere.toml) = %q, %v; want %q", got, err, filepath.Join(dir, "e.sock"))
	}
}

// FuzzSocketOf checks that for any config Parse accepts, a socket that
// socketOf finds is the one Parse sets.
func FuzzSocketOf(f *testing.F) {
	for _, file := range testFiles(f) {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(data))
	}
	for _, tt := range scanTests {
		f.Add(tt.src)
	}
	for _, tt := range socketTests {
		f.Add(tt.src)
	}
	dir, err := filepath.Abs(".")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, src string) {
		sock, ok := socketOf(dir, src)
		cfg, err := Parse("fuzz.toml", []byte(src))
		if err != nil || !ok {
			return
		}
		if sock != cfg.Supervisor.Socket {
			t.Errorf("socketOf(%q) = %q; Parse sets %q", src, sock, cfg.Supervisor.Socket)
		}
	})
}
