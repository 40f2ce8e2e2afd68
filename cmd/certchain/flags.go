package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// newFlags makes the flag set of the (sub)command name ("publish",
// "device new"). parseFlags parses it: -h prints the command's synopsis
// as `certchain help` shows it, then its flags, on stdout; a bad flag is
// an error that names the synopsis.
func newFlags(e *env, name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // parseFlags reports errors itself
	fs.Usage = func() { printHelp(e.stdout, fs) }
	return fs
}

// parseFlags parses args with flags anywhere among the positional
// arguments (`revoke FILE --reason keyCompromise` as well as `revoke
// --reason keyCompromise FILE`); "--" ends the flags, so a positional
// argument may start with "-" after it. The positional arguments are
// fs.Args() afterwards.
func parseFlags(fs *flag.FlagSet, args []string) error {
	help := fs.Usage
	fs.Usage = func() {} // the flag package calls it on errors too
	defer func() { fs.Usage = help }()
	var pos []string
	for {
		err := fs.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			help()
			return err
		}
		if err != nil {
			return &usageError{name: fs.Name(), err: err}
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			pos = append(pos, rest...) // after "--": no more flags
			break
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
	return fs.Parse(append([]string{"--"}, pos...)) // leaves pos in fs.Args()
}

// usageError is a command line that does not parse: it is printed with
// the command's synopsis.
type usageError struct {
	name string
	err  error
}

func (u *usageError) Error() string {
	var b strings.Builder
	b.WriteString(u.err.Error())
	for _, f := range formsOf(u.name) {
		fmt.Fprintf(&b, "\nusage: certchain %s", f.syn)
	}
	fmt.Fprintf(&b, "\n(`certchain %s -h` lists the flags)", u.name)
	return b.String()
}

func (u *usageError) Unwrap() error { return u.err }

// usagef is a usageError of command name (a wrong number of arguments).
func usagef(name, format string, args ...any) error {
	return &usageError{name: name, err: fmt.Errorf(format, args...)}
}

// printHelp prints a command's synopsis, what it does, and its flags.
func printHelp(w io.Writer, fs *flag.FlagSet) {
	for _, f := range formsOf(fs.Name()) {
		fmt.Fprintf(w, "usage: certchain %s\n    %s\n", f.syn, f.what)
	}
	fmt.Fprintln(w, "\nflags (before or after the arguments; -- ends them):")
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}

// formsOf returns the synopses of command name: those of a subcommand
// ("device new"), or all of a command's ("device").
func formsOf(name string) []form {
	var out []form
	for _, c := range commands() {
		for _, f := range c.forms {
			if p := f.path(); p == name || strings.HasPrefix(p, name+" ") {
				out = append(out, f)
			}
		}
	}
	return out
}

// first is args[0], or "" when there are no arguments.
func first(args []string) string {
	if len(args) == 0 {
		return ""
	}
	return args[0]
}
