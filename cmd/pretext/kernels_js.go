//go:build js && wasm

package main

import "github.com/pretextlab/pretext/internal/kernel/jshost"

// Built for js/wasm and run by wasm/exec_node.js with PRETEXT_SIMD=1 (as
// ./build.sh bench does), the command multiplies with the simd128 kernels
// that exec_node.js loaded, as the page does. Without them it uses Go's
// own kernels (exec_node.js has said why).
func init() { jshost.Install() }
