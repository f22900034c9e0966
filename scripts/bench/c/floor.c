/*
 * floor: the least a supervisor has to do, as the bench's baseline.
 *
 *   floor N COMMAND [ARG...]
 *
 * starts N copies of COMMAND with posix_spawn (vfork and exec), each the
 * leader of its own process group with standard input from /dev/null; with
 * SIGCHLD and SIGTERM blocked it sleeps in sigwaitinfo, and on SIGCHLD reaps
 * every exited child with waitpid(WNOHANG) and spawns its replacement at
 * once. On SIGTERM it sends SIGTERM to every child's group, reaps them all
 * and exits 0. No timers, no polling, no status.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static posix_spawnattr_t attr;
static posix_spawn_file_actions_t actions;
static char **cmd;

static pid_t spawn(void)
{
	pid_t pid;
	int err = posix_spawn(&pid, cmd[0], &actions, &attr, cmd, environ);

	if (err != 0) {
		fprintf(stderr, "floor: cannot spawn %s: %s\n", cmd[0], strerror(err));
		return 0;
	}
	return pid;
}

int main(int argc, char **argv)
{
	sigset_t waitset, empty;
	pid_t *pids;
	int n, i;

	if (argc < 3 || (n = atoi(argv[1])) <= 0) {
		fprintf(stderr, "usage: floor N COMMAND [ARG...]\n");
		return 100;
	}
	cmd = argv + 2;
	pids = calloc(n, sizeof *pids);
	sigemptyset(&empty);
	sigemptyset(&waitset);
	sigaddset(&waitset, SIGCHLD);
	sigaddset(&waitset, SIGTERM);
	sigprocmask(SIG_BLOCK, &waitset, NULL);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setsigmask(&attr, &empty);
	posix_spawn_file_actions_init(&actions);
	posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
	for (i = 0; i < n; i++)
		pids[i] = spawn();

	for (;;) {
		int sig = sigwaitinfo(&waitset, NULL);
		pid_t pid;
		int status;

		if (sig == SIGTERM)
			break;
		if (sig != SIGCHLD)
			continue;
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
			for (i = 0; i < n; i++)
				if (pids[i] == pid) {
					pids[i] = spawn();
					break;
				}
	}
	for (i = 0; i < n; i++)
		if (pids[i] > 0)
			kill(-pids[i], SIGTERM);
	while (wait(NULL) > 0 || errno == EINTR)
		;
	return 0;
}
