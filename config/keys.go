package config

// Key describes one key of the config file, for documentation (the
// ringsup.toml(5) man page is made from Keys).
type Key struct {
	// Table is where the key goes: "supervisor", "daemons.NAME",
	// "daemons.NAME.health", "events", "hooks", "cluster".
	Table string
	// Name is the key.
	Name string
	// Type says what value it takes, such as "duration" or "signal".
	Type string
	// Required is set for a key its table must have.
	Required bool
}

// kindTypes names each kind of value for Key.Type.
var kindTypes = [...]string{
	kindString:    "string",
	kindBool:      "boolean",
	kindInt:       "integer",
	kindDuration:  "duration",
	kindSize:      "size",
	kindSignal:    "signal",
	kindPath:      "path",
	kindStrings:   "array of strings",
	kindCommand:   "array of strings, or string",
	kindStringMap: "table of strings",
	kindFraction:  "number from 0 to 1",
	kindRlimits:   "table of limits",
	kindUmask:     "umask",
	kindTable:     "table",
	kindTables:    "array of tables",
}

// Keys lists every key the config file accepts, table by table in the
// order of the schema, the tables themselves left out.
func Keys() []Key {
	var out []Key
	add := func(table string, key string, k kind, required bool) {
		if k == kindTable || k == kindTables {
			return
		}
		out = append(out, Key{Table: table, Name: key, Type: kindTypes[k], Required: required})
	}
	for _, f := range supervisorFields() {
		add("supervisor", f.key, f.kind, f.required)
	}
	for _, f := range daemonFields() {
		add("daemons.NAME", f.key, f.kind, f.required)
	}
	for _, f := range healthFields() {
		add("daemons.NAME.health", f.key, f.kind, f.required)
	}
	for _, f := range eventsFields() {
		add("events", f.key, f.kind, f.required)
	}
	for _, f := range hookFields() {
		add("hooks", f.key, f.kind, f.required)
	}
	for _, f := range clusterFields() {
		add("cluster", f.key, f.kind, f.required)
	}
	return out
}
