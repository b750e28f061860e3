/*
 * The floor for bench_modbus_tcp: a bare libmodbus TCP server, single
 * threaded as libmodbus's own examples are (tests/bandwidth-server-many-up.c):
 * modbus_tcp_listen, select over the clients, modbus_receive and
 * modbus_reply over a static mapping of 0x0000..0x01FF. It trusts its
 * clients (modbus_receive blocks for the rest of a frame): fine for a
 * benchmark, not for a meter.
 *
 * usage: bench_modbus_floor [PORT]   (0, the default: any free port)
 * prints "tcp 127.0.0.1 PORT" then "ready", serves until killed.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include <modbus.h>

int main(int argc, char **argv)
{
    int port = argc > 1 ? atoi(argv[1]) : 0;
    modbus_t *ctx = modbus_new_tcp("127.0.0.1", port);
    modbus_mapping_t *map = modbus_mapping_new_start_address(0, 0, 0, 0, 0,
                                                             0x200, 0, 0);
    uint8_t query[MODBUS_TCP_MAX_ADU_LENGTH];
    fd_set all;
    int maxfd;

    if (!ctx || !map) {
        fprintf(stderr, "bench_modbus_floor: %s\n", modbus_strerror(errno));
        return 3;
    }
    for (int a = 0; a < 0x200; a++)
        map->tab_registers[a] = (uint16_t)(0x1000 + a);
    int server = modbus_tcp_listen(ctx, 16);
    if (server < 0) {
        fprintf(stderr, "bench_modbus_floor: listen: %s\n",
                modbus_strerror(errno));
        return 3;
    }
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);
    getsockname(server, (struct sockaddr *)&sa, &sl);
    printf("tcp 127.0.0.1 %d\nready\n", ntohs(sa.sin_port));
    fflush(stdout);

    FD_ZERO(&all);
    FD_SET(server, &all);
    maxfd = server;
    for (;;) {
        fd_set rd = all;
        if (select(maxfd + 1, &rd, NULL, NULL, NULL) < 0) {
            if (errno == EINTR)
                continue;
            perror("bench_modbus_floor: select");
            return 3;
        }
        for (int fd = 0; fd <= maxfd; fd++) {
            if (!FD_ISSET(fd, &rd))
                continue;
            if (fd == server) {
                int c = accept(server, NULL, NULL);
                if (c >= 0 && c < FD_SETSIZE) {
                    FD_SET(c, &all);
                    if (c > maxfd)
                        maxfd = c;
                } else if (c >= 0) {
                    close(c);
                }
                continue;
            }
            modbus_set_socket(ctx, fd);
            int rc = modbus_receive(ctx, query);
            if (rc > 0) {
                modbus_reply(ctx, query, rc, map);
            } else if (rc == -1) {
                close(fd);
                FD_CLR(fd, &all);
            }
        }
    }
}
