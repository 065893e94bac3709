/*
  chrony-ptpkvm guest simulator
  Copyright (C) 2026 The chrony-ptpkvm authors

  This program is free software; you can redistribute it and/or modify
  it under the terms of version 2 of the GNU General Public License as
  published by the Free Software Foundation.

  This program is distributed in the hope that it will be useful, but
  WITHOUT ANY WARRANTY; without even the implied warranty of
  MERCHANTABILITY or FITNESS FOR A PARTICULAR PURPOSE.  See the GNU
  General Public License for more details.

  SPDX-License-Identifier: GPL-2.0-only

  =======================================================================

  An NTP server on the host's network, in virtual time.  A process that
  connects a UDP socket to SIM_NTP_ADDR:123 (`server 127.0.0.123` in
  chronyd.conf) reaches a real socket of the simulator on the loopback
  interface; each client request it sends is answered as a stratum-2
  server whose clock is the host's (plus ntp_offset) would answer it
  (RFC 5905 mode 4: origin = the request's transmit timestamp, receive
  and transmit timestamps from the server clock), and the answer is put
  on the wire when virtual time reaches request + one-way delay up +
  processing + one-way delay down.  Each one-way delay is ntp_delay plus
  an exponential queueing delay of mean ntp_jitter; the way down also
  carries ntp_asym (a constant asymmetry, which no client can see).  The
  answer's source port is shown to the process as 123.  Kernel socket
  timestamps are refused (setsockopt fails with EINVAL): they would carry
  the real clock, so chronyd timestamps packets itself, from the model.
  A VM that is paused when the answer arrives receives it at the resume.
  */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sim.h"

/* Where the process finds the server: 127.0.0.123 port 123 */
#define SIM_NTP_ADDR 0x7f00007bU
#define NTP_PORT 123
#define NTP_LEN 48
/* Seconds from 1900 (NTP era 0) to 1970 */
#define NTP_UNIX_OFFSET 2208988800.0L
/* Server processing time between its receive and transmit timestamps */
#define PROCESSING 10e-6
/* Answers in flight at most */
#define MAX_PENDING 16
/* What the server says of itself */
#define STRATUM 2
#define PRECISION (-24)
#define ROOT_DELAY 0.002
#define ROOT_DISPERSION 0.0005
#define REFID 0xc0000201U      /* 192.0.2.1: its own server */

typedef struct {
  SIM_Time deliver;           /* true time */
  struct sockaddr_in to;
  unsigned char pkt[NTP_LEN];
} Answer;

static int (*real_connect)(int, const struct sockaddr *, socklen_t);
static ssize_t (*real_sendmsg)(int, const struct msghdr *, int);
static ssize_t (*real_recvmsg)(int, struct msghdr *, int);
static int (*real_recvmmsg)(int, struct mmsghdr *, unsigned int, int, struct timespec *);
static int (*real_setsockopt)(int, int, int, const void *, socklen_t);

static int server_fd = -1;
static in_port_t server_port;   /* network order */
static Answer pending[MAX_PENDING];
static int n_pending;

/* ================================================== */

static void *
sym(const char *name)
{
  void *p = dlsym(RTLD_NEXT, name);

  if (!p)
    SIM_Fatal("no libc symbol %s", name);
  return p;
}

static void
init_syms(void)
{
  if (real_connect)
    return;
  real_sendmsg = sym("sendmsg");
  real_recvmsg = sym("recvmsg");
  real_recvmmsg = sym("recvmmsg");
  real_setsockopt = sym("setsockopt");
  real_connect = sym("connect");
}

/* ================================================== */

static int
is_server_addr(const struct sockaddr_in *a)
{
  return a->sin_family == AF_INET && a->sin_addr.s_addr == htonl(SIM_NTP_ADDR);
}

/* The server's socket on 127.0.0.123, an ephemeral port */
static int
open_server(void)
{
  struct sockaddr_in a;
  socklen_t len = sizeof (a);

  if (server_fd >= 0)
    return 1;
  memset(&a, 0, sizeof (a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(SIM_NTP_ADDR);
  server_fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (server_fd < 0 || bind(server_fd, (struct sockaddr *)&a, sizeof (a)) < 0 ||
      getsockname(server_fd, (struct sockaddr *)&a, &len) < 0)
    SIM_Fatal("NTP server socket: %s", strerror(errno));
  server_port = a.sin_port;
  SIM_LogEvent("ntp_server addr=127.0.0.123");
  return 1;
}

/* ================================================== */

static void
put32(unsigned char *p, uint32_t v)
{
  v = htonl(v);
  memcpy(p, &v, 4);
}

/* NTP short format (16.16) */
static void
put_short(unsigned char *p, double v)
{
  put32(p, (uint32_t)llround(v * 65536.0));
}

/* NTP timestamp of host time h (relative to the scenario epoch) */
static void
put_ts(unsigned char *p, SIM_Time h)
{
  SIM_Time ntp = h + SIM_sc.epoch + NTP_UNIX_OFFSET, sec = floorl(ntp);
  uint64_t frac = (uint64_t)((ntp - sec) * 4294967296.0L);

  if (frac > 0xffffffffU)
    frac = 0xffffffffU;
  put32(p, (uint32_t)(uint64_t)sec);
  put32(p + 4, (uint32_t)frac);
}

/* One-way delay (s) */
static double
one_way(void)
{
  return SIM_sc.ntp_delay - SIM_sc.ntp_jitter * log(1.0 - SIM_RandUniform(SIM_RNG_NET));
}

/* ================================================== */

static void
answer(const unsigned char *req, const struct sockaddr_in *from)
{
  double up = one_way(), down = one_way() + SIM_sc.ntp_asym;
  SIM_Time server = SIM_Host() + SIM_sc.ntp_offset;
  Answer *a;

  if (n_pending >= MAX_PENDING)
    return;                     /* dropped, as a full queue would */
  a = &pending[n_pending++];
  a->deliver = SIM_Now() + up + PROCESSING + down;
  a->to = *from;
  memset(a->pkt, 0, NTP_LEN);
  /* leap 0, the request's version, mode 4 (server) */
  a->pkt[0] = (req[0] & 0x38) | 4;
  a->pkt[1] = STRATUM;
  a->pkt[2] = req[2];
  a->pkt[3] = (unsigned char)PRECISION;
  put_short(a->pkt + 4, ROOT_DELAY);
  put_short(a->pkt + 8, ROOT_DISPERSION);
  put32(a->pkt + 12, REFID);
  put_ts(a->pkt + 16, server - 16.0);
  memcpy(a->pkt + 24, req + 40, 8);
  put_ts(a->pkt + 32, server + up);
  put_ts(a->pkt + 40, server + up + PROCESSING);
  SIM_LogEvent("ntp_exchange up=%.9f down=%.9f", up, down);
}

/* Take the requests that reached the server (loopback delivers them
   within the sender's sendmsg) */
static void
take_requests(void)
{
  unsigned char buf[512];
  struct sockaddr_in from;
  socklen_t len;
  ssize_t n;

  for (;;) {
    len = sizeof (from);
    n = recvfrom(server_fd, buf, sizeof (buf), MSG_DONTWAIT, (struct sockaddr *)&from, &len);
    if (n < 0)
      return;
    /* NTPv1-4 client requests only */
    if (n >= NTP_LEN && (buf[0] & 7) == 3 && len == sizeof (from))
      answer(buf, &from);
  }
}

/* ================================================== */

int
SIM_NtpDeliver(void)
{
  SIM_Time next = -1.0L;
  int i, sent = 0;

  for (i = 0; i < n_pending; ) {
    if (pending[i].deliver <= SIM_Now()) {
      /* a client socket closed meanwhile: lost, as on a real network */
      sendto(server_fd, pending[i].pkt, NTP_LEN, 0, (struct sockaddr *)&pending[i].to,
             sizeof (pending[i].to));
      pending[i] = pending[--n_pending];
      sent++;
      continue;
    }
    if (next < 0.0L || pending[i].deliver < next)
      next = pending[i].deliver;
    i++;
  }
  SIM_WakeAt(next);
  return sent;
}

/* ================================================== */
/* The process's socket calls */

int
connect(int fd, const struct sockaddr *addr, socklen_t len)
{
  struct sockaddr_in a;

  init_syms();
  if (SIM_Routed() && addr && len >= sizeof (a) && addr->sa_family == AF_INET) {
    memcpy(&a, addr, sizeof (a));
    if (is_server_addr(&a) && a.sin_port == htons(NTP_PORT) && open_server()) {
      a.sin_port = server_port;
      return real_connect(fd, (struct sockaddr *)&a, sizeof (a));
    }
  }
  return real_connect(fd, addr, len);
}

ssize_t
sendmsg(int fd, const struct msghdr *msg, int flags)
{
  ssize_t r;

  init_syms();
  r = real_sendmsg(fd, msg, flags);
  if (server_fd >= 0 && SIM_Routed()) {
    take_requests();
    SIM_NtpDeliver();
  }
  return r;
}

/* The server's answers come from port 123, as the process asked */
static void
show_port(struct msghdr *m)
{
  struct sockaddr_in a;

  if (server_fd < 0 || !m->msg_name || m->msg_namelen < sizeof (a))
    return;
  memcpy(&a, m->msg_name, sizeof (a));
  if (is_server_addr(&a) && a.sin_port == server_port) {
    a.sin_port = htons(NTP_PORT);
    memcpy(m->msg_name, &a, sizeof (a));
  }
}

ssize_t
recvmsg(int fd, struct msghdr *msg, int flags)
{
  ssize_t r;

  init_syms();
  r = real_recvmsg(fd, msg, flags);
  if (r >= 0)
    show_port(msg);
  return r;
}

int
recvmmsg(int fd, struct mmsghdr *v, unsigned int n, int flags, struct timespec *timeout)
{
  int r, i;

  init_syms();
  r = real_recvmmsg(fd, v, n, flags, timeout);
  for (i = 0; i < r; i++)
    show_port(&v[i].msg_hdr);
  return r;
}

static int
is_timestamping(int level, int name)
{
  if (level != SOL_SOCKET)
    return 0;
  switch (name) {
    case SO_TIMESTAMP:
    case SO_TIMESTAMPNS:
    case SO_TIMESTAMPING:
    case SO_SELECT_ERR_QUEUE:
#ifdef SO_TIMESTAMP_NEW
    case SO_TIMESTAMP_NEW:
    case SO_TIMESTAMPNS_NEW:
    case SO_TIMESTAMPING_NEW:
#endif
      return 1;
    default:
      return 0;
  }
}

int
setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
  init_syms();
  if (SIM_Routed() && is_timestamping(level, name)) {
    errno = EINVAL;
    return -1;
  }
  return real_setsockopt(fd, level, name, val, len);
}

