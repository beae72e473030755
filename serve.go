//go:build ignore

// Serve builds the browser version of Pretext if it is missing or older
// than its sources, then serves web/ locally:
//
//	go run serve.go            # http://localhost:8080
//	go run serve.go -port 9000
//	go run serve.go -dist dist # write the page's files for a static host
//
// Everything runs in the browser tab; this server only hands out the
// static files (with cross-origin isolation and a Content-Security-Policy
// that allows nothing but this origin).
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/pretextlab/pretext/web"
)

func main() {
	port := flag.Int("port", 8080, "port to listen on")
	host := flag.String("host", "localhost", "interface to listen on (localhost keeps it to this machine)")
	dist := flag.String("dist", "", "write the page's files into this folder, for any static host, and exit")
	flag.Parse()
	if _, err := os.Stat("web/index.html"); err != nil {
		log.Fatal("run serve.go from the repository root: go run serve.go")
	}
	if *dist != "" {
		if err := web.Dist(".", *dist); err != nil {
			log.Fatal(err)
		}
		log.Printf("wrote the page into %s/ (%s/HOSTING.txt says how to host it)", *dist, *dist)
		return
	}
	start := time.Now()
	built, err := web.EnsureBuilt(".")
	if err != nil {
		log.Fatal(err)
	}
	if built {
		log.Printf("built %s in %.1fs", web.Module, time.Since(start).Seconds())
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(*host, fmt.Sprint(*port)))
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("Pretext is at http://%s:%d/ (Ctrl-C to stop)", *host, *port)
	log.Fatal(http.Serve(ln, web.Handler("web")))
}
