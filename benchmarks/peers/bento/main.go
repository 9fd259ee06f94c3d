// A Bento binary with only the components the peer harness uses (io: stdin/file
// input, pure: bloblang mapping, kafka: kafka/kafka_franz outputs, mongodb output).
// Built by benchmarks/peers/run.sh into ~/.cache/edgepipe/peers (not in git).
package main

import (
	"context"

	_ "github.com/warpstreamlabs/bento/public/components/io"
	_ "github.com/warpstreamlabs/bento/public/components/kafka"
	_ "github.com/warpstreamlabs/bento/public/components/mongodb"
	_ "github.com/warpstreamlabs/bento/public/components/pure"
	"github.com/warpstreamlabs/bento/public/service"
)

func main() {
	service.RunCLI(context.Background())
}
