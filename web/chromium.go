package web

import (
	"context"
	"os/exec"
	"slices"

	"github.com/chromedp/chromedp"
)

// Chromium returns the path of a Chromium-family browser on PATH, or "" if
// there is none (Debian: apt-get install chromium).
func Chromium() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// NewBrowser starts the headless browser at exe for the browser test and
// the browser benchmark: no sandbox (containers), no GPU, no background
// networking, component updates or sync, so the only traffic is the page's.
// Extra options (e.g. a proxy) are appended.
func NewBrowser(parent context.Context, exe string, extra ...chromedp.ExecAllocatorOption) (context.Context, context.CancelFunc) {
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
