package supervisor

// instanceOf returns the number of d, when d is an instance of a daemon
// with instances: the "instance" of its status and events.
func instanceOf(d *daemon) *int {
	if d.cfg.Instances == 0 {
		return nil
	}
	n := d.cfg.Instance
	return &n
}
