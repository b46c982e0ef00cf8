package rules

// NewEngine returns an engine for a rule file, or for the built-in rules
// when path is empty.
func NewEngine(path string, outputs ...Output) (*Engine, error) {
	if path == "" {
		return New(Builtins(), outputs...), nil
	}
	f, err := LoadFile(path)
	if err != nil {
		return nil, err
	}
	return New(f.Rules(), outputs...), nil
}

// Close closes the outputs and returns the first error.
func (e *Engine) Close() error {
	var first error
	for _, o := range e.outputs {
		if err := o.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}
