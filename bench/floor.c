/* The floor for setKeepAlive with all four fields: the five setsockopt
 * calls it needs, on a connected loopback socket, timed in a tight loop.
 * Usage: floor ITERATIONS [threaded]  -> prints ns per iteration.
 *
 * "threaded" starts one idle thread first. Linux looks a descriptor up
 * more cheaply in a process of one thread (fdget() skips the reference
 * count while the file table is not shared), and a Node process always has
 * several (V8's platform workers, libuv's): with a second thread the same
 * calls are the floor a Node process can reach. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static void set(int fd, int level, int name, int value) {
  if (setsockopt(fd, level, name, &value, sizeof(value)) != 0) {
    perror("setsockopt");
    exit(1);
  }
}

static void* sleeper(void* unused) {
  (void)unused;
  for (;;) pause();
  return NULL;
}

int main(int argc, char** argv) {
  long iterations = argc > 1 ? atol(argv[1]) : 1000000;
  pthread_t thread;
  if (argc > 2 && strcmp(argv[2], "threaded") == 0 && pthread_create(&thread, NULL, sleeper, NULL) != 0) {
    perror("pthread_create");
    return 1;
  }
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof(addr);
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  if (bind(listener, (struct sockaddr*)&addr, sizeof(addr)) || listen(listener, 1) ||
      getsockname(listener, (struct sockaddr*)&addr, &len)) {
    perror("listen");
    return 1;
  }
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (connect(fd, (struct sockaddr*)&addr, sizeof(addr))) {
    perror("connect");
    return 1;
  }
  struct timespec start, end;
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (long i = 0; i < iterations; i++) {
    int idle = 30 + (i & 1); /* alternate, as the JS loops do */
    set(fd, IPPROTO_TCP, TCP_KEEPIDLE, idle);
    set(fd, IPPROTO_TCP, TCP_KEEPINTVL, 5);
    set(fd, IPPROTO_TCP, TCP_KEEPCNT, 4);
    set(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, 50000);
    set(fd, SOL_SOCKET, SO_KEEPALIVE, 1);
  }
  clock_gettime(CLOCK_MONOTONIC, &end);
  double ns = (end.tv_sec - start.tv_sec) * 1e9 + (end.tv_nsec - start.tv_nsec);
  printf("%.1f\n", ns / iterations);
  return 0;
}
