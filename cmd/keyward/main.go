// Command keyward is self-hosted API key management: a dashboard for team
// owners and admins, and an API that authenticates requests by those keys.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/keyward/keyward/internal/config"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// command is one subcommand.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, env *env, args []string) error
}

// env is what every subcommand gets: its streams and environment.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
}

func commands() []command {
	return []command{
		{"serve", "serve the dashboard and the API (the default)", runServe},
		{"gateway", "run the gateway alone (KEYWARD_GATEWAY_ADDR → KEYWARD_UPSTREAM), no dashboard or /v1", runGateway},
		{"migrate", "apply database migrations and exit", runMigrate},
		{"users", "manage users: users create --email E --team T --role R", runUsers},
		{"keys", "manage API keys: keys create --team T --name N --permission P; keys roll --key-id ID", runKeys},
		{"secrets", "re-seal stored secrets under a new key: secrets rotate --old-key K", runSecrets},
		{"version", "print the version", runVersion},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	e := &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}
	if err := run(ctx, e, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "keyward:", err)
		os.Exit(2)
	}
}

func run(ctx context.Context, e *env, args []string) error {
	if len(args) > 0 && (args[0] == "help" || args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
		usage(e.stdout)
		return nil
	}
	name := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	}
	for _, c := range commands() {
		if c.name == name {
			err := c.run(ctx, e, args)
			if errors.Is(err, flag.ErrHelp) {
				return nil // asked for help, and got it
			}
			return err
		}
	}
	usage(e.stderr)
	return fmt.Errorf("unknown command %q", name)
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "keyward %s: self-hosted API key management\n\nUsage:\n  keyward [command] [flags]\n\nCommands:\n", version)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nConfiguration (environment variable, flag):\n%s\nRun `keyward <command> --help` for a command's flags.\n", config.Usage())
}

// isHelp reports whether a command-line word asks for help.
func isHelp(arg string) bool {
	switch arg {
	case "help", "-h", "-help", "--help":
		return true
	}
	return false
}

// parseConfig parses a subcommand's flags, including every configuration
// flag, and returns the configuration. Its --help lists the subcommand's
// own flags first, then the server's settings apart; it goes to standard
// output, and the caller returns flag.ErrHelp (exit status 0).
func parseConfig(e *env, name string, args []string, extra func(fs *flag.FlagSet)) (*config.Config, *flag.FlagSet, error) {
	fs := flag.NewFlagSet("keyward "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	for _, a := range args {
		if isHelp(a) && a != "help" {
			fs.SetOutput(e.stdout)
		}
	}
	own := map[string]bool{}
	if extra != nil {
		extra(fs)
		fs.VisitAll(func(f *flag.Flag) { own[f.Name] = true })
	}
	load := config.Flags(fs, e.getenv)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: keyward %s [flags]\n", name)
		if len(own) > 0 {
			fmt.Fprintf(w, "\nFlags of keyward %s:\n", name)
			printFlags(w, fs, func(n string) bool { return own[n] })
		}
		fmt.Fprintf(w, "\nServer settings (each also an environment variable):\n")
		printFlags(w, fs, func(n string) bool { return !own[n] })
	}
	if err := fs.Parse(args); err != nil {
		return nil, nil, err
	}
	if fs.NArg() > 0 {
		return nil, nil, fmt.Errorf("unexpected argument %q (see keyward %s --help)", fs.Arg(0), name)
	}
	cfg, err := load()
	if err != nil {
		return nil, nil, fmt.Errorf("configuration:\n  %s", strings.ReplaceAll(err.Error(), "\n", "\n  "))
	}
	return cfg, fs, nil
}

// newLogger logs in format (json or text); with none, in text when w is a
// terminal (a person reads it) and JSON otherwise (a collector does).
func newLogger(w io.Writer, format string) *slog.Logger {
	if format == "" && isTerminal(w) {
		format = "text"
	}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, nil))
	}
	return slog.New(slog.NewJSONHandler(w, nil))
}

func runVersion(_ context.Context, e *env, _ []string) error {
	fmt.Fprintln(e.stdout, "keyward", version)
	return nil
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// printFlags lists the flags of fs that keep selects, as flag's own
// PrintDefaults does.
func printFlags(w io.Writer, fs *flag.FlagSet, keep func(string) bool) {
	fs.VisitAll(func(f *flag.Flag) {
		if !keep(f.Name) {
			return
		}
		kind, usage := flag.UnquoteUsage(f)
		line := "  --" + f.Name
		if kind != "" {
			line += " " + kind
		}
		line += "\n    \t" + strings.ReplaceAll(usage, "\n", "\n    \t")
		if f.DefValue != "" && f.DefValue != "false" {
			line += fmt.Sprintf(" (default %q)", f.DefValue)
		}
		fmt.Fprintln(w, line)
	})
}
