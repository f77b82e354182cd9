/*
 * A real Mosquitto broker for tests: its own configuration in a temporary
 * folder, a free loopback port, started and stopped by PID (never the
 * system service). Optional persistence, password file, TLS with
 * certificates made here by the openssl command, max_connections and
 * max_packet_size.
 *
 *     test_broker b;
 *     broker_init(&b, "verge-test");           // temp folder and free port
 *     broker_start(&b);                        // waits until the port accepts
 *     ... mqtt://127.0.0.1:b.port ...
 *     broker_stop(&b);  broker_start(&b);      // a restart on the same port
 *     broker_cleanup(&b);                      // stops it and removes the folder
 */
#ifndef VERGE_TESTS_MQTT_BROKER_H
#define VERGE_TESTS_MQTT_BROKER_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct test_broker {
    char dir[256];
    char config[320];
    char url[64];
    int port;
    pid_t pid;
    bool persistence;
    bool tls;                 /* listener with the certificates from broker_make_certificates() */
    bool require_certificate; /* TLS clients must show a certificate signed by the CA */
    bool passwords;           /* password file with user "verge", password "secret" */
    int max_connections;      /* 0: unlimited */
    int max_packet_size;      /* largest packet the broker accepts (sent in CONNACK); 0: no limit */
} test_broker;

static inline double broker_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline void broker_sleep(double seconds)
{
    struct timespec ts = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        continue;
}

/* Returns a loopback TCP port that was free a moment ago. */
static inline int broker_free_port(void)
{
    struct sockaddr_in address;
    socklen_t length = sizeof(address);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

    memset(&address, 0, sizeof(address));
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && bind(fd, (struct sockaddr *)&address, sizeof(address)) == 0 &&
        getsockname(fd, (struct sockaddr *)&address, &length) == 0)
        port = ntohs(address.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

static inline bool broker_port_open(int port)
{
    struct sockaddr_in address;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    bool open_now;

    memset(&address, 0, sizeof(address));
    address.sin_family = AF_INET;
    address.sin_port = htons((uint16_t)port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    open_now = fd >= 0 && connect(fd, (struct sockaddr *)&address, sizeof(address)) == 0;
    if (fd >= 0)
        close(fd);
    return open_now;
}

static inline int broker_shell(const char *command)
{
    int status = system(command);

    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Path of a file in the broker's folder (rotating static buffers). */
static inline const char *broker_file(const test_broker *b, const char *name)
{
    static char paths[8][400];
    static int next;
    char *path = paths[next++ % 8];

    snprintf(path, sizeof(paths[0]), "%s/%s", b->dir, name);
    return path;
}

/* Creates the folder and picks a port; exits the test when that fails. */
static inline void broker_init(test_broker *b, const char *name)
{
    memset(b, 0, sizeof(*b));
    snprintf(b->dir, sizeof(b->dir), "/tmp/%s-XXXXXX", name);
    if (mkdtemp(b->dir) == NULL) {
        fprintf(stderr, "cannot create %s: %s\n", b->dir, strerror(errno));
        exit(2);
    }
    b->port = broker_free_port();
    if (b->port <= 0) {
        fprintf(stderr, "no free loopback port\n");
        exit(2);
    }
    b->pid = -1;
    snprintf(b->config, sizeof(b->config), "%s/mosquitto.conf", b->dir);
}

/*
 * Makes ca.pem / ca.key, server.pem / server.key (for 127.0.0.1 and
 * localhost), client.pem / client.key, and other-ca.pem (a CA that signed
 * nothing here). Returns 0 on success.
 */
static inline int broker_make_certificates(const test_broker *b)
{
    char command[3500];
    char quiet[4000];

    snprintf(command, sizeof(command),
             "cd %s && "
             "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=verge-test-ca "
             "-keyout ca.key -out ca.pem && "
             "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=other-ca "
             "-keyout other-ca.key -out other-ca.pem && "
             "openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout server.key "
             "-out server.csr && "
             "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > server.ext && "
             "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
             "-extfile server.ext -out server.pem && "
             "openssl req -newkey rsa:2048 -nodes -subj /CN=verge-client -keyout client.key "
             "-out client.csr && "
             "openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
             "-out client.pem",
             b->dir);
    snprintf(quiet, sizeof(quiet), "(%s) > %s/openssl.log 2>&1", command, b->dir);
    return broker_shell(quiet);
}

static inline void broker_write_config(test_broker *b)
{
    FILE *file = fopen(b->config, "w");

    if (file == NULL) {
        fprintf(stderr, "cannot write %s\n", b->config);
        exit(2);
    }
    /* As root, Mosquitto would switch to user "mosquitto", who cannot read this private folder. */
    if (geteuid() == 0)
        fprintf(file, "user root\n");
    fprintf(file, "listener %d 127.0.0.1\n", b->port);
    fprintf(file, "set_tcp_nodelay true\n");
    if (b->max_connections > 0)
        fprintf(file, "max_connections %d\n", b->max_connections);
    if (b->max_packet_size > 0)
        fprintf(file, "max_packet_size %d\n", b->max_packet_size);
    if (b->tls) {
        fprintf(file, "cafile %s\ncertfile %s\nkeyfile %s\n", broker_file(b, "ca.pem"),
                broker_file(b, "server.pem"), broker_file(b, "server.key"));
        if (b->require_certificate)
            fprintf(file, "require_certificate true\n");
    }
    if (b->passwords) {
        fprintf(file, "allow_anonymous false\npassword_file %s\n", broker_file(b, "passwords"));
    } else {
        fprintf(file, "allow_anonymous true\n");
    }
    if (b->persistence)
        fprintf(file, "persistence true\npersistence_location %s/\nautosave_interval 1\n", b->dir);
    fprintf(file, "log_dest file %s\n", broker_file(b, "broker.log"));
    fclose(file);
    if (b->passwords) {
        char command[1024];

        snprintf(command, sizeof(command),
                 "rm -f %s && mosquitto_passwd -b -c %s verge secret > /dev/null 2>&1",
                 broker_file(b, "passwords"), broker_file(b, "passwords"));
        if (broker_shell(command) != 0) {
            fprintf(stderr, "mosquitto_passwd failed\n");
            exit(2);
        }
    }
}

/* Starts the broker and waits (up to 5 s) until it accepts connections. Returns 0 on success. */
static inline int broker_start(test_broker *b)
{
    double deadline;

    broker_write_config(b);
    snprintf(b->url, sizeof(b->url), "%s://127.0.0.1:%d", b->tls ? "mqtts" : "mqtt", b->port);
    fflush(stdout);
    fflush(stderr);
    b->pid = fork();
    if (b->pid == 0) {
        int null = open("/dev/null", O_RDWR);

        /* Stop with the test, also when it is killed. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (null >= 0) {
            dup2(null, 0);
            dup2(null, 1);
            dup2(null, 2);
        }
        execlp("mosquitto", "mosquitto", "-c", b->config, (char *)NULL);
        _exit(127);
    }
    if (b->pid < 0)
        return -1;
    for (deadline = broker_now() + 5; broker_now() < deadline;) {
        int status;

        if (waitpid(b->pid, &status, WNOHANG) == b->pid) {
            fprintf(stderr, "mosquitto exited at start (status %d); see %s\n", status,
                    broker_file(b, "broker.log"));
            b->pid = -1;
            return -1;
        }
        if (broker_port_open(b->port))
            return 0;
        broker_sleep(0.02);
    }
    return -1;
}

/* Stops the broker with SIGTERM (it saves its persistence file) and waits for it. */
static inline void broker_stop(test_broker *b)
{
    if (b->pid > 0) {
        kill(b->pid, SIGTERM);
        waitpid(b->pid, NULL, 0);
    }
    b->pid = -1;
}

static inline void broker_cleanup(test_broker *b)
{
    char command[400];

    broker_stop(b);
    if (b->dir[0] != '\0' && strncmp(b->dir, "/tmp/", 5) == 0) {
        snprintf(command, sizeof(command), "rm -rf %s", b->dir);
        broker_shell(command);
    }
}

#endif
