"""Publishing what staff changed: the job, its typed status and the regression gate."""
