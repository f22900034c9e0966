package config

import "testing"

// TestHTTPSCheck: HTTPSCheck names the first daemon whose health check
// needs TLS, whatever case its scheme is written in (the URL's scheme is
// case-insensitive, and the probe follows it), instances included.
func TestHTTPSCheck(t *testing.T) {
	for _, tt := range []struct {
		name, file, want string
	}{
		{"none", "[daemons.a]\ncommand = [\"sleep\", \"1\"]\n", ""},
		{"http", "[daemons.a]\ncommand = [\"sleep\", \"1\"]\nhealth = { http = \"http://127.0.0.1:9/h\" }\n", ""},
		{"tcp", "[daemons.a]\ncommand = [\"sleep\", \"1\"]\nhealth = { tcp = \"127.0.0.1:9\" }\n", ""},
		{"https", "[daemons.b]\ncommand = [\"sleep\", \"1\"]\nhealth = { http = \"https://127.0.0.1:9/h\" }\n" +
			"[daemons.c]\ncommand = [\"sleep\", \"1\"]\nhealth = { http = \"https://127.0.0.1:10/h\" }\n", "b"},
		{"upper case", "[daemons.a]\ncommand = [\"sleep\", \"1\"]\nhealth = { http = \"HTTPS://127.0.0.1:9/h\" }\n", "a"},
		{"mixed case", "[daemons.a]\ncommand = [\"sleep\", \"1\"]\nhealth = { http = \"Https://127.0.0.1:9/h\" }\n", "a"},
		{"instances", "[daemons.w]\ncommand = [\"sleep\", \"1\"]\ninstances = 2\n" +
			"health = { http = \"https://127.0.0.1:90${RINGSUP_INSTANCE}0/h\" }\n", "w@0"},
	} {
		c, err := Parse("/srv/ringsup.toml", []byte(tt.file))
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got := c.HTTPSCheck(); got != tt.want {
			t.Errorf("%s: HTTPSCheck() = %q, want %q", tt.name, got, tt.want)
		}
	}
}
