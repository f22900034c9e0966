/*
 * child: the daemon every contender supervises. It connects to the harness's
 * unix SOCK_SEQPACKET socket named by $BENCH_SOCK, sends "<pid> <tag>" (tag:
 * argv[1], or "-"), and sleeps until a signal kills it. The harness sees the
 * start as that message and the death as the connection closing, so it never
 * polls. If $BENCH_NOTIFY_FD names a descriptor, it then writes a newline
 * there and closes it: s6's readiness notification (notification-fd).
 * Built once by the harness with gcc -O2 -static.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	const char *path = getenv("BENCH_SOCK");
	const char *notify = getenv("BENCH_NOTIFY_FD");
	struct sockaddr_un sa;
	char msg[160];
	int fd, n;

	if (path == NULL || strlen(path) >= sizeof sa.sun_path)
		return 111;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 111;
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	strcpy(sa.sun_path, path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
		return 111;
	n = snprintf(msg, sizeof msg, "%d %.100s", (int)getpid(), argc > 1 ? argv[1] : "-");
	if (send(fd, msg, n, 0) != n)
		return 111;
	if (notify != NULL) {
		int nfd = atoi(notify);

		if (write(nfd, "\n", 1) == 1)
			close(nfd);
	}
	for (;;)
		pause();
}
