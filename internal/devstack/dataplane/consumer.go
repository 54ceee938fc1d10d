package dataplane

import (
	"path/filepath"

	"github.com/go-logr/logr"

	"github.com/kdp-io/streamprocessor-operator/internal/devstack/fargate"
	"github.com/kdp-io/streamprocessor-operator/internal/devstack/localimage"
)

// ConsumerRunner runs the containers named "consumer" as processes of
// binary. A task in the built-in mode appends its records to
// <outputDir>/<task id>.jsonl (OUTPUT). A task whose image has a local
// stand-in under imagesDir (package localimage) gets that image's ENV and
// its PROCESSOR_COMMAND and PROPERTIES_FILE mapped into the stand-in's
// files; a task that runs a record processor (either variable set) gets no
// OUTPUT, which the consumer refuses alongside a processor.
func ConsumerRunner(binary, outputDir, imagesDir string, log logr.Logger) fargate.Runner {
	return fargate.Runner{
		ContainerName: "consumer", Binary: binary, HealthPath: "/readyz", Port: fargate.HTTPAddrEnv,
		ExtraEnv: func(t fargate.TaskInfo) map[string]string {
			env := map[string]string{}
			img, found, err := localimage.Load(imagesDir, t.Image)
			if err != nil {
				log.Error(err, "Local image unreadable; running the task without it", "task", t.TaskID, "image", t.Image)
			}
			if found {
				env = img.Overrides(t.Env)
			}
			processor := false
			for _, k := range localimage.ProcessorVars {
				processor = processor || t.Env[k] != "" || env[k] != ""
			}
			switch {
			case processor && !found:
				log.Info("Record processor without a local image: its paths are used on this host as they are",
					"task", t.TaskID, "image", t.Image, "imagesDir", filepath.Join(imagesDir, localimage.DirName(t.Image)))
			case !processor:
				env["OUTPUT"] = filepath.Join(outputDir, t.TaskID+".jsonl")
			}
			return env
		},
	}
}
