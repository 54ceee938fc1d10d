package v1alpha1

// ProcessorSpec runs a KCL MultiLang record processor in the consumer
// container: the consumer starts one subprocess of it per leased shard and
// speaks the KCL MultiLangDaemon protocol with it (docs/multilang.md). The
// image must contain the processor and what it needs (e.g. Python and
// amazon_kclpy). The operator puts these fields into the consumer's task
// definition as PROCESSOR_COMMAND and PROPERTIES_FILE.
//
// +kubebuilder:validation:XValidation:rule="has(self.command) || has(self.propertiesFile)",message="consumer.processor needs command or propertiesFile (whose executableName is the command); leave processor out for the built-in JSON-lines mode"
type ProcessorSpec struct {
	// Command starts the record processor: an executable (a path in the
	// image, or a name on its PATH) and its arguments, split on blanks as
	// the daemon splits executableName (no quoting). Examples:
	// /app/record_processor.py, python3 /app/app.py --verbose. Overrides
	// the properties file's executableName.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:XValidation:rule="self.matches('^[^\\\\s]') && !self.matches('[\\\\x00-\\\\x1f\\\\x7f]')",message="consumer.processor.command must be one line starting with the executable: a path or name, then blank-separated arguments, no control characters"
	// +optional
	Command string `json:"command,omitempty"`

	// PropertiesFile is the path, in the image, of a KCL MultiLangDaemon
	// .properties file such as the seed's sample.properties. Its keys the
	// consumer supports stand for its variables; a key it does not support
	// stops the consumer with an error naming it. STREAM_NAME,
	// APPLICATION_NAME and AWS_REGION, set by the operator, win over the
	// file's streamName, applicationName and regionName.
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:XValidation:rule="self.startsWith('/')",message="consumer.processor.propertiesFile must be an absolute path in the image, e.g. /app/sample.properties"
	// +optional
	PropertiesFile string `json:"propertiesFile,omitempty"`
}
