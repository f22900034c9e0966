/*
 * floor: the least a supervisor has to do, as the bench's baseline.
 *
 *   floor [-t THREADS] N COMMAND [ARG...]
 *
 * starts N copies of COMMAND with posix_spawn (vfork and exec), each the
 * leader of its own process group with standard input from /dev/null,
 * from THREADS threads at once (default 1; child i from thread i % THREADS:
 * one per core is what a supervisor that forks from several threads can
 * reach). Then, from the main thread alone, with
 * SIGCHLD and SIGTERM blocked it sleeps in sigwaitinfo, and on SIGCHLD reaps
 * every exited child with waitpid(WNOHANG) and spawns its replacement at
 * once. On SIGTERM it sends SIGTERM to every child's group, reaps them all
 * and exits 0. No timers, no polling, no status.
 */
#include <errno.h>
#include <pthread.h>
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
static pid_t *pids;
static int n, nthreads = 1;

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

/* spawner starts children t, t+nthreads, t+2*nthreads, ... */
static void *spawner(void *arg)
{
	int i;

	for (i = (int)(long)arg; i < n; i += nthreads)
		pids[i] = spawn();
	return NULL;
}

int main(int argc, char **argv)
{
	sigset_t waitset, empty;
	pthread_t *threads;
	int i;

	if (argc > 2 && strcmp(argv[1], "-t") == 0) {
		nthreads = atoi(argv[2]);
		argv += 2;
		argc -= 2;
	}
	if (argc < 3 || (n = atoi(argv[1])) <= 0 || nthreads <= 0) {
		fprintf(stderr, "usage: floor [-t THREADS] N COMMAND [ARG...]\n");
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
	/* The threads inherit the blocked mask: SIGCHLD stays for sigwaitinfo. */
	threads = calloc(nthreads, sizeof *threads);
	for (i = 1; i < nthreads; i++)
		if (pthread_create(&threads[i], NULL, spawner, (void *)(long)i) != 0) {
			fprintf(stderr, "floor: cannot start a spawning thread\n");
			return 100;
		}
	spawner((void *)0L);
	for (i = 1; i < nthreads; i++)
		pthread_join(threads[i], NULL);

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
