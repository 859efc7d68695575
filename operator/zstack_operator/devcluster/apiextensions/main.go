// Command zstack-apiextensions-apiserver is a standalone Kubernetes apiextensions API server
// (CustomResourceDefinitions and custom resources, no core API) for the operator's CRD tests.
//
// Built by zstack_operator/devcluster/modern.py from Debian's golang-k8s-apiextensions-apiserver-dev
// in GOPATH mode; see docs/kubernetes-versions.md. It differs from upstream's main.go in two
// places, both needed before kubectl can talk to a server that has no kube-aggregator in front
// (plus a --version flag):
//
//   - discovery is on: apiextensions' Complete() turns it off because kube-apiserver's aggregator
//     normally serves /apis, so standalone it answers 404 and kubectl finds no resource types;
//   - an OpenAPI v2 config is set: the CRD OpenAPI publishers (v2 and v3) start only when a v2
//     spec exists, so without it kubectl reports "failed to download openapi" for explain and
//     client-side validation.
package main

import (
	"context"
	"os"

	"github.com/spf13/cobra"

	"k8s.io/apiextensions-apiserver/pkg/apiserver"
	"k8s.io/apiextensions-apiserver/pkg/cmd/server/options"
	generatedopenapi "k8s.io/apiextensions-apiserver/pkg/generated/openapi"
	openapinamer "k8s.io/apiserver/pkg/endpoints/openapi"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/apiserver/pkg/util/openapi"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/component-base/cli"
	"k8s.io/component-base/version/verflag"
)

func main() {
	ctx := genericapiserver.SetupSignalContext()
	os.Exit(cli.Run(newCommand(ctx)))
}

// newCommand is upstream's server.NewServerCommand with run in place of server.Run: the same
// flags, so docs and the Python launcher can use upstream's flag names unchanged.
func newCommand(ctx context.Context) *cobra.Command {
	o := options.NewCustomResourceDefinitionsServerOptions(os.Stdout, os.Stderr)
	cmd := &cobra.Command{
		Use:   "zstack-apiextensions-apiserver",
		Short: "Standalone apiextensions API server with discovery and OpenAPI v2 (CRD tests only)",
		PersistentPreRunE: func(*cobra.Command, []string) error {
			return o.ServerRunOptions.ComponentGlobalsRegistry.Set()
		},
		RunE: func(c *cobra.Command, _ []string) error {
			// --version, which the build checks and upstream's command lacks.
			verflag.PrintAndExitIfRequested()
			if err := o.Complete(); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return run(c.Context(), o)
		},
	}
	cmd.SetContext(ctx)
	o.AddFlags(cmd.Flags())
	verflag.AddFlags(cmd.Flags())
	return cmd
}

func run(ctx context.Context, o *options.CustomResourceDefinitionsServerOptions) error {
	config, err := o.Config()
	if err != nil {
		return err
	}
	// The same definitions and namer upstream uses for its v3 config, so v2 and v3 agree.
	config.GenericConfig.OpenAPIConfig = genericapiserver.DefaultOpenAPIConfig(
		openapi.GetOpenAPIDefinitionsWithoutDisabledFeatures(generatedopenapi.GetOpenAPIDefinitions),
		openapinamer.NewDefinitionNamer(apiserver.Scheme, scheme.Scheme),
	)
	completed := config.Complete()
	// Complete() has just set this to false; nothing in front of us serves /apis instead.
	completed.GenericConfig.EnableDiscovery = true
	server, err := completed.New(genericapiserver.NewEmptyDelegate())
	if err != nil {
		return err
	}
	return server.GenericAPIServer.PrepareRun().RunWithContext(ctx)
}
