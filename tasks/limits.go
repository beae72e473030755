package tasks

import (
	"fmt"

	"github.com/pretextlab/pretext/core"
)

// checkHead refuses a head of more than core.MaxHeadValues parameters
// before it is allocated: each setting has its own range, but their product
// (hidden units times the trunk's features, say) could still ask for
// gigabytes, from a checkpoint's header as from a typing slip.
func checkHead(name string, values int) error {
	if values > core.MaxHeadValues {
		return fmt.Errorf("tasks: %s head would have %d parameters, at most %d allowed", name, values, core.MaxHeadValues)
	}
	return nil
}
