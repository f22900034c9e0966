package config

import "testing"

// scanTests are documents with the position of one key path in each. They
// also seed FuzzParse.
var scanTests = []struct {
	src  string
	path keyPath
	want Position
}{
	{"a = 1", keyPath{"a"}, Position{1, 1}},
	{"\n\n  a = 1", keyPath{"a"}, Position{3, 3}},
	{"\ta = 1", keyPath{"a"}, Position{1, 2}},
	{"[daemons.web]\ncommand = 'x'", keyPath{"daemons", "web"}, Position{1, 10}},
	{"[daemons.web]\ncommand = 'x'", keyPath{"daemons", "web", "command"}, Position{2, 1}},
	{"[ daemons . web ]\n  command = 'x'", keyPath{"daemons", "web", "command"}, Position{2, 3}},
	{"[ daemons . web ]\n  command = 'x'", keyPath{"daemons", "web"}, Position{1, 13}},
	{"[daemons.\"a.b\"]\nuser = 'x'", keyPath{"daemons", "a.b", "user"}, Position{2, 1}},
	{"[daemons.'a b']\nuser = 'x'", keyPath{"daemons", "a b"}, Position{1, 10}},
	{"[daemons]\nweb.health.exec = 'x'", keyPath{"daemons", "web", "health", "exec"}, Position{2, 12}},
	{"[daemons]\nweb = { command = 'x', health = { tcp = 'h:1' } }", keyPath{"daemons", "web", "health", "tcp"}, Position{2, 35}},
	{"[daemons.w]\nenv = { A = '1',\n  B = '2' }", keyPath{"daemons", "w", "env", "B"}, Position{3, 3}},
	{"a = \"\"\"\n[x]\nb = 1\n\"\"\"\nc = 1", keyPath{"c"}, Position{5, 1}},
	{"a = '''\n[x]\nb = 1\n'''\nb = 1", keyPath{"b"}, Position{5, 1}},
	{"a = \"\"\"x\"\"\"\"\"\nb = 1", keyPath{"b"}, Position{2, 1}},
	{"a = \"x\\\"# y = 2\"\nb = 1", keyPath{"b"}, Position{2, 1}},
	{"a = 1 # b = 2\nc = 3", keyPath{"c"}, Position{2, 1}},
	{"# [daemons.x]\n[daemons.y]", keyPath{"daemons", "y"}, Position{2, 10}},
	{"a = [\n  1, # comment ]\n  [2, 3],\n]\nb = 1", keyPath{"b"}, Position{5, 1}},
	{"a = [\n  'x',\n  'y',\n]", keyPath{"a"}.index(1), Position{3, 3}},
	{"d = 1979-05-27 07:32:00Z\nb = 1", keyPath{"b"}, Position{2, 1}},
	{"[[hooks]]\nevents = []\n[[hooks]]\nevents = []", keyPath{"hooks"}.index(1).key("events"), Position{4, 1}},
	{"[[hooks]]\nevents = []\n[[hooks]]\nevents = []", keyPath{"hooks"}.index(1), Position{3, 3}},
	{"[[a]]\n[[a.b]]\nx = 1\n[[a]]\n[[a.b]]\n[[a.b]]\nx = 1", keyPath{"a"}.index(1).key("b").index(1).key("x"), Position{7, 1}},
	{"[[a]]\n[a.c]\nx = 1", keyPath{"a"}.index(0).key("c").key("x"), Position{3, 1}},
	{"hooks = [{events = []}, {command = 'x'}]", keyPath{"hooks"}.index(1).key("command"), Position{1, 26}},
	{"\xef\xbb\xbfa = 1\nb = 2", keyPath{"b"}, Position{2, 1}},
	{"a = 1\r\nb = 2", keyPath{"b"}, Position{2, 1}},
	{"\"\" = 1", keyPath{""}, Position{1, 1}},
	{"[daemons.\"\"]\ncommand = 'x'", keyPath{"daemons", "", "command"}, Position{2, 1}},
	{"[\"\".\"\"]\n\"\" = [1, 2]", keyPath{"", "", ""}.index(1), Position{2, 10}},
}

func TestScanPositions(t *testing.T) {
	for _, tt := range scanTests {
		pos := scanPositions(tt.src)
		got, ok := pos[tt.path.id()]
		if !ok || got != tt.want {
			t.Errorf("scanPositions(%q)[%s] = %v, %v, want %v", tt.src, tt.path, got, ok, tt.want)
		}
	}
}

func TestKeyPathString(t *testing.T) {
	tests := []struct {
		in   keyPath
		want string
	}{
		{keyPath{"daemons", "web", "command"}, "daemons.web.command"},
		{keyPath{"daemons", "a.b"}, `daemons."a.b"`},
		{keyPath{"daemons", ""}, `daemons.""`},
		{keyPath{"hooks"}.index(2).key("events"), "hooks[2].events"},
		{keyPath{"daemons", "w", "depends_on"}.index(0), "daemons.w.depends_on[0]"},
	}
	for _, tt := range tests {
		if got := tt.in.String(); got != tt.want {
			t.Errorf("keyPath%q.String() = %q, want %q", []string(tt.in), got, tt.want)
		}
	}
}
