package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"
)

func ctlEmitCommand() *cli.Command {
	return &cli.Command{
		Name:  "emit",
		Usage: "publish an event of a custom type ([events] types) on the event stream",
		UsageText: "ringsup ctl emit [--data JSON] [--as NAME] TYPE [KEY=VALUE | KEY:=JSON ...]\n\n" +
			"The event's daemon_type is the daemon this command runs in (found from its\n" +
			"process group); none outside any daemon. KEY=VALUE adds a string to the\n" +
			"data, KEY:=JSON any JSON value. --data and --as may also follow TYPE.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "data", Usage: "the event's data: a JSON `OBJECT` (at most 64 KiB)"},
			&cli.StringFlag{Name: "as", Usage: "publish as daemon `NAME` (root or the supervisor's user, outside any daemon)"},
		},
		Action: func(c *cli.Context) error {
			args := emitArgs{data: c.String("data"), as: c.String("as")}
			if err := args.parse(c.Args().Slice()); err != nil {
				return ctlFail(c, err)
			}
			data, err := args.object()
			if err != nil {
				return ctlFail(c, err)
			}
			client, err := ctlClient(c)
			if err != nil {
				return ctlFail(c, err)
			}
			return ctlFail(c, ctlNotListening(c, client.EmitAs(c.Context, args.as, args.typ, data)))
		},
	}
}

// emitArgs are the arguments of ctl emit.
type emitArgs struct {
	typ, data, as string
	fields        []string // KEY=VALUE and KEY:=JSON, in order
}

// parse reads the type, the fields and the flags that follow the type.
func (a *emitArgs) parse(args []string) error {
	for i := 0; i < len(args); i++ {
		arg := args[i]
		name, value, hasValue := strings.Cut(strings.TrimLeft(arg, "-"), "=")
		switch {
		case strings.HasPrefix(arg, "-") && (name == "data" || name == "as"):
			if !hasValue {
				if i+1 == len(args) {
					return fmt.Errorf("flag --%s needs a value", name)
				}
				i++
				value = args[i]
			}
			if name == "data" {
				a.data = value
			} else {
				a.as = value
			}
		case strings.HasPrefix(arg, "-"):
			return fmt.Errorf("unknown flag %s (have: --data, --as)", arg)
		case a.typ == "":
			a.typ = arg
		case strings.Contains(arg, "="):
			a.fields = append(a.fields, arg)
		default:
			return fmt.Errorf("argument %q is not KEY=VALUE or KEY:=JSON", arg)
		}
	}
	if a.typ == "" {
		return errors.New("emit needs an event type")
	}
	return nil
}

// object returns the event's data: --data with the fields set over it.
func (a *emitArgs) object() (json.RawMessage, error) {
	obj := map[string]json.RawMessage{}
	if a.data != "" {
		if err := json.Unmarshal([]byte(a.data), &obj); err != nil || obj == nil {
			return nil, errors.New("--data must be a JSON object")
		}
	}
	if len(a.fields) == 0 {
		return json.RawMessage(a.data), nil
	}
	for _, f := range a.fields {
		if key, raw, ok := strings.Cut(f, ":="); ok && !strings.Contains(key, "=") {
			if !json.Valid([]byte(raw)) {
				return nil, fmt.Errorf("%s: the value after := must be JSON", f)
			}
			obj[key] = json.RawMessage(raw)
			continue
		}
		key, value, _ := strings.Cut(f, "=")
		b, _ := json.Marshal(value)
		obj[key] = b
	}
	return json.Marshal(obj)
}
