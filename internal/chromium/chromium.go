// Package chromium finds and starts the headless Chromium that the browser
// test (web/browser_test.go) and the browser benchmark (cmd/browserbench)
// drive with chromedp. It is the only non-test package that imports
// chromedp, and only those two import it, so the pretext command and the
// page's server (serve.go, package web) are built without it.
package chromium

import (
	"context"
	"os/exec"
	"slices"

	"github.com/chromedp/chromedp"
)

// Find returns the path of a Chromium-family browser on PATH, or "" if
// there is none (Debian: apt-get install chromium).
func Find() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// Start returns a chromedp context for the headless browser at exe, which
// starts at the context's first chromedp.Run, and the function that closes
// it: no sandbox (containers), no GPU, no background networking, component
// updates or sync, so the only traffic is the page's. Extra options (e.g. a
// proxy) are appended.
func Start(parent context.Context, exe string, extra ...chromedp.ExecAllocatorOption) (context.Context, context.CancelFunc) {
	opts := append(slices.Clone(chromedp.DefaultExecAllocatorOptions[:]),
		chromedp.ExecPath(exe),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		// Chromium's own background traffic (update checks, network time,
		// autofill and optimisation hints, sign-in) is off too: the browser
		// test refuses every request outside the page's origin.
		chromedp.Flag("disable-features", "AutofillServerCommunication,OptimizationHints,OptimizationGuideModelDownloading,"+
			"NetworkTimeServiceQuerying,Translate,MediaRouter,InterestFeedContentSuggestions,CertificateTransparencyComponentUpdater"),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.Flag("disable-client-side-phishing-detection", true),
		chromedp.Flag("no-pings", true),
		chromedp.Flag("no-first-run", true),
		chromedp.WindowSize(1280, 1000),
	)
	opts = append(opts, extra...)
	actx, cancelAlloc := chromedp.NewExecAllocator(parent, opts...)
	ctx, cancel := chromedp.NewContext(actx)
	return ctx, func() { cancel(); cancelAlloc() }
}
