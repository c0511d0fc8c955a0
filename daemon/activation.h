/*
 * activation: sockets handed over by systemd (socket activation: the
 * LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES protocol of sd_listen_fds(3),
 * read here without libsystemd). A listening Unix stream socket becomes
 * the control socket, a listening TCP socket the peer port, whatever their
 * names; btd then neither binds them nor removes the control socket's
 * file at exit (it is systemd's, and outlives a restart of btd).
 *
 * Loop thread, at start-up: btd_activation_init before the session opens,
 * btd_activation_finish after (it closes, with a warning, what no one took).
 */
#ifndef BTD_ACTIVATION_H
#define BTD_ACTIVATION_H

enum btd_activation_kind {
    BTD_ACTIVATION_CONTROL, /* AF_UNIX, SOCK_STREAM, listening */
    BTD_ACTIVATION_PEERS,   /* AF_INET or AF_INET6, SOCK_STREAM, listening */
};

/* Reads the environment (and clears it, so no child sees it). The count of sockets passed. */
int btd_activation_init(void);
/* The passed socket of that kind (now the caller's to close), or -ENOENT. */
int btd_activation_take(enum btd_activation_kind kind);
/* Closes the sockets no one took, one warning each. */
void btd_activation_finish(void);

#endif
