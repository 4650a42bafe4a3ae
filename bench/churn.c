/* The C figure for bench/preload.js: loopback connection churn as the Node
 * benchmark does it (connect, accept, one byte each way, the server closes
 * first, then the client), with and without the five keepalive options
 * (SO_KEEPALIVE, TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT, TCP_USER_TIMEOUT)
 * on both ends, and on the client end only. Blocks of CONNECTIONS
 * connections of each kind take turns; prints, for each kind with options,
 * the median over ROUNDS of (CPU time per connection) / (CPU time without).
 * Usage: churn CONNECTIONS ROUNDS -> "both <ratio> client <ratio>" */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static void set(int fd, int level, int name, int value) {
  if (setsockopt(fd, level, name, &value, sizeof(value)) != 0) {
    perror("setsockopt");
    exit(1);
  }
}

/* idle=10s,interval=2s,count=3,userTimeout=auto: bench/preload.js's policy */
static void protect(int fd) {
  set(fd, SOL_SOCKET, SO_KEEPALIVE, 1);
  set(fd, IPPROTO_TCP, TCP_KEEPIDLE, 10);
  set(fd, IPPROTO_TCP, TCP_KEEPINTVL, 2);
  set(fd, IPPROTO_TCP, TCP_KEEPCNT, 3);
  set(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, 16000);
}

static double cpu_seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

/* CPU seconds per connection; ends: 0 none, 1 client, 2 both */
static double block(int listener, struct sockaddr_in* addr, long connections, int ends) {
  char byte = 'x';
  double start = cpu_seconds();
  for (long i = 0; i < connections; i++) {
    int client = socket(AF_INET, SOCK_STREAM, 0);
    if (client < 0 || connect(client, (struct sockaddr*)addr, sizeof(*addr))) {
      perror("connect");
      exit(1);
    }
    if (ends >= 1) protect(client);
    int server = accept(listener, NULL, NULL);
    if (server < 0) {
      perror("accept");
      exit(1);
    }
    if (ends == 2) protect(server);
    if (write(client, &byte, 1) != 1 || read(server, &byte, 1) != 1 || write(server, &byte, 1) != 1 || read(client, &byte, 1) != 1) {
      perror("echo");
      exit(1);
    }
    close(server);
    close(client);
  }
  return (cpu_seconds() - start) / connections;
}

static int compare(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return (x > y) - (x < y);
}

int main(int argc, char** argv) {
  long connections = argc > 1 ? atol(argv[1]) : 2000;
  int rounds = argc > 2 ? atoi(argv[2]) : 15;
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof(addr);
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  if (bind(listener, (struct sockaddr*)&addr, sizeof(addr)) || listen(listener, 128) || getsockname(listener, (struct sockaddr*)&addr, &len)) {
    perror("listen");
    return 1;
  }
  block(listener, &addr, connections, 0); /* warm-up */
  double* both = malloc(sizeof(double) * rounds);
  double* client = malloc(sizeof(double) * rounds);
  for (int r = 0; r < rounds; r++) {
    double t[3];
    for (int k = 0; k < 3; k++) {
      int ends = (k + r) % 3; /* rotated, so drift hurts each alike */
      t[ends] = block(listener, &addr, connections, ends);
    }
    both[r] = t[2] / t[0];
    client[r] = t[1] / t[0];
  }
  qsort(both, rounds, sizeof(double), compare);
  qsort(client, rounds, sizeof(double), compare);
  printf("both %.4f client %.4f\n", both[rounds / 2], client[rounds / 2]);
  return 0;
}
