package main

import (
	"flag"
	"fmt"
	"strings"

	"github.com/msrprelay/msrprelay/bench/load"
	"github.com/msrprelay/msrprelay/endpoint"
)

// targetFlags name the relay a command loads and how its user AUTHs
// (run and density).
type targetFlags struct {
	relay, user, password, realmHost, authForm *string
	pid                                        *int
}

// addTargetFlags defines the target's flags on fs; relayHelp and pidHelp
// say what the command does with the relay and its process.
func addTargetFlags(fs *flag.FlagSet, relayHelp, pidHelp string) *targetFlags {
	return &targetFlags{
		relay:     fs.String("relay", "127.0.0.1:2855", relayHelp),
		user:      fs.String("user", "", "AUTH user"),
		password:  fs.String("password", "", "AUTH password"),
		realmHost: fs.String("realm-host", "", "host of the AUTH To-Path URI (the user's domain)"),
		authForm:  fs.String("auth-form", "rfc", "Authorization form: rfc, msrplib or uri (Kamailio)"),
		pid:       fs.Int("relay-pid", 0, pidHelp),
	}
}

// target is the relay the parsed flags name.
func (f *targetFlags) target() (load.Target, error) {
	form, err := parseAuthForm(*f.authForm)
	if err != nil {
		return load.Target{}, err
	}
	return load.Target{Name: *f.relay, Addrs: strings.Split(*f.relay, ","), RealmHost: *f.realmHost,
		User: *f.user, Password: *f.password, AuthForm: form, PID: *f.pid}, nil
}

func parseAuthForm(s string) (endpoint.AuthForm, error) {
	if s == "" {
		return endpoint.FormRFC, nil
	}
	form, err := endpoint.ParseAuthForm(s)
	if err != nil {
		return 0, fmt.Errorf("--auth-form %q: want rfc, msrplib or uri", s)
	}
	return form, nil
}
