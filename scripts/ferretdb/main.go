// Command edgepipe-ferretdb runs an embedded FerretDB (MongoDB wire protocol)
// with the SQLite backend, for edgepipe's local test stack (scripts/stack.sh).
//
// We embed github.com/FerretDB/FerretDB/ferretdb instead of `go install`ing the
// FerretDB CLI because the CLI panics at start-up without the build/version/
// version.txt file that only FerretDB's own build generates; the embeddable
// package skips that check.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen-addr", "127.0.0.1:27017", "TCP address to listen on")
	dataDir := flag.String("data-dir", "", "directory for the SQLite databases (created if missing)")
	debug := flag.Bool("debug", false, "log at debug level")
	flag.Parse()

	if *dataDir == "" {
		fmt.Fprintln(os.Stderr, "edgepipe-ferretdb: -data-dir is required")
		os.Exit(2)
	}

	level := slog.LevelInfo
	if *debug {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	if err := run(*listen, *dataDir, logger); err != nil {
		logger.Error("edgepipe-ferretdb failed", "error", err)
		os.Exit(1)
	}
}

func run(listen, dataDir string, logger *slog.Logger) error {
	dir, err := filepath.Abs(dataDir)
	if err != nil {
		return err
	}

	// The SQLite backend refuses to start unless the directory already exists.
	if err = os.MkdirAll(dir, 0o755); err != nil {
		return err
	}

	// The SQLite URL must use the "file:" scheme and end with "/".
	sqliteURL := (&url.URL{Scheme: "file", Path: dir + "/"}).String()

	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: listen},
		Logger:    logger,
		Handler:   "sqlite",
		SQLiteURL: sqliteURL,
	})
	if err != nil {
		return err
	}

	// Stop cleanly (closing the SQLite databases) on SIGTERM/SIGINT.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	logger.Info("edgepipe-ferretdb starting", "listen", listen, "sqlite", sqliteURL)

	return f.Run(ctx)
}
