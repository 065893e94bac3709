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

  Self-test program of the simulator.  It is an ordinary program run
  under the interposer (selftest.sh gives each mode its scenario) and
  checks the model through the same libc calls chronyd uses: a free
  guest drifts at exactly the configured frequency, ADJ_SETOFFSET moves
  the clock by exactly the request, ADJ_FREQUENCY/ADJ_TICK change the
  rate as Linux does, a pause freezes the guest clocks while the PHC runs
  on, PRECISE fails with ENODEV after a switch to tsc, the sysfs fixture
  and /dev/ptp_kvm discovery, fault windows, seccomp, unmodelled calls
  abort, chronyd's selection log lines reach the truth log (mode
  "logtap"), a query at a held moment (mode "query"; both checked by
  selftest.sh), and (mode "safety") a clock-control syscall that bypasses the
  interposer fails with EPERM.  Disruptions: a step by another program,
  suspend-to-RAM (kvm wall clock and RTC persistent clock), migration with
  kvm-clock and tsc, host and guest leap seconds, PRECISE EINVAL, a pre-5.0
  chardev, failed hypercalls under the printk ratelimit, noisy system and
  PHC timestamps, a 12-day pause.  Each mode prints "N passed, N failed",
  counted from the checks that ran.
  */

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/ptp_clock.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/timex.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define FD_TO_CLOCKID(fd) ((clockid_t)((((unsigned int)~(fd)) << 3) | 3))

static int passed, failed;

static void
check(int ok, const char *name, const char *fmt, ...)
{
  va_list ap;

  if (ok) {
    passed++;
    printf("PASS %s\n", name);
    return;
  }
  failed++;
  printf("FAIL %s: ", name);
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  printf("\n");
}

/* ================================================== */

static long double
ts_ld(const struct timespec *ts)
{
  return ts->tv_sec + ts->tv_nsec * 1e-9L;
}

static long double
now(clockid_t clk)
{
  struct timespec ts;

  if (clock_gettime(clk, &ts) < 0) {
    printf("clock_gettime(%d): %s\n", (int)clk, strerror(errno));
    exit(2);
  }
  return ts_ld(&ts);
}

static void
vsleep(double s)
{
  struct timespec ts = {(time_t)s, (long)((s - (time_t)s) * 1e9)};

  nanosleep(&ts, NULL);
}

static int
open_phc(const char *path)
{
  int fd = open(path, O_RDONLY);

  if (fd < 0) {
    printf("open(%s): %s\n", path, strerror(errno));
    exit(2);
  }
  return fd;
}

static int
get_precise(int fd, struct ptp_sys_offset_precise *sp)
{
  memset(sp, 0, sizeof (*sp));
  return ioctl(fd, PTP_SYS_OFFSET_PRECISE, sp);
}

static long double
pt(const struct ptp_clock_time *t)
{
  return t->sec + t->nsec * 1e-9L;
}

/* Offset of the guest REALTIME from the PHC using PRECISE */
static long double
precise_offset(int fd)
{
  struct ptp_sys_offset_precise sp;

  if (get_precise(fd, &sp) < 0) {
    printf("PRECISE: %s\n", strerror(errno));
    exit(2);
  }
  return pt(&sp.sys_realtime) - pt(&sp.device);
}

/* ================================================== */

/* Scenario: guest_freq_ppm 37, no wander, no PHC noise */
static void
test_drift(void)
{
  long double rt0, raw0, off0, rt1, raw1, off1, phc0, phc1, drift;
  struct ptp_sys_offset_precise sp;
  int fd = open_phc("/dev/ptp_kvm");

  get_precise(fd, &sp);
  phc0 = pt(&sp.device);
  raw0 = pt(&sp.sys_monoraw);
  rt0 = pt(&sp.sys_realtime);
  off0 = rt0 - phc0;
  vsleep(10000.0);
  get_precise(fd, &sp);
  phc1 = pt(&sp.device);
  raw1 = pt(&sp.sys_monoraw);
  rt1 = pt(&sp.sys_realtime);
  off1 = rt1 - phc1;

  drift = (off1 - off0) / (phc1 - phc0);
  check(fabsl(drift - 37e-6L) < 1e-10L, "free guest drifts at +37 ppm",
        "measured %.6Lf ppm", drift * 1e6L);
  drift = (raw1 - raw0) / (phc1 - phc0) - 1.0L;
  check(fabsl(drift - 37e-6L) < 1e-10L, "MONOTONIC_RAW runs at +37 ppm",
        "measured %.6Lf ppm", drift * 1e6L);
  check(fabsl((rt1 - rt0) - (raw1 - raw0)) < 2e-9L, "REALTIME runs with the counter at nominal tick/freq",
        "rt %.9Lf raw %.9Lf", rt1 - rt0, raw1 - raw0);
  check(fabsl(now(CLOCK_MONOTONIC) - now(CLOCK_MONOTONIC_RAW)) < 1e-6L,
        "MONOTONIC equals MONOTONIC_RAW before any adjustment", "");
  close(fd);
}

/* ================================================== */

static int
setoffset(long double off)
{
  struct timex t;
  long double s = floorl(off);

  memset(&t, 0, sizeof (t));
  t.modes = ADJ_SETOFFSET | ADJ_NANO;
  t.time.tv_sec = (time_t)s;
  t.time.tv_usec = (long)llroundl((off - s) * 1e9L);
  return adjtimex(&t);
}

/* Scenario: read_cost 0, no noise */
static void
test_setoffset(void)
{
  long double a, b, o0, o1;
  struct timex t;
  int fd = open_phc("/dev/ptp_kvm");
  int r;

  o0 = precise_offset(fd);
  a = now(CLOCK_REALTIME);
  r = setoffset(1.234567891L);
  b = now(CLOCK_REALTIME);
  o1 = precise_offset(fd);
  check(r >= 0 && fabsl((b - a) - 1.234567891L) < 1e-9L, "ADJ_SETOFFSET +1.234567891 s",
        "r=%d clock moved %.9Lf", r, b - a);
  check(fabsl((o1 - o0) - 1.234567891L) < 1e-9L, "offset to PHC moved by +1.234567891 s",
        "moved %.9Lf", o1 - o0);

  a = now(CLOCK_REALTIME);
  r = setoffset(-0.5L);
  b = now(CLOCK_REALTIME);
  check(r >= 0 && fabsl((b - a) + 0.5L) < 1e-9L, "ADJ_SETOFFSET -0.5 s",
        "r=%d clock moved %.9Lf", r, b - a);

  a = now(CLOCK_MONOTONIC);
  setoffset(100.0L);
  b = now(CLOCK_MONOTONIC);
  check(fabsl(b - a) < 1e-9L, "ADJ_SETOFFSET does not move MONOTONIC", "moved %.9Lf", b - a);

  memset(&t, 0, sizeof (t));
  t.modes = ADJ_MAXERROR;
  t.maxerror = 0;
  adjtimex(&t);
  check(t.maxerror == 0, "maxerror reads back 0", "%ld", t.maxerror);
  setoffset(0.0L);
  memset(&t, 0, sizeof (t));
  r = adjtimex(&t);
  check(t.maxerror >= 100000 && (t.status & STA_UNSYNC) && r == TIME_ERROR,
        "ADJ_SETOFFSET resets maxerror and sets STA_UNSYNC (chronyd's probe)",
        "maxerror %ld status 0x%x r %d", t.maxerror, t.status, r);

  memset(&t, 0, sizeof (t));
  t.modes = ADJ_SETOFFSET | ADJ_NANO;
  t.time.tv_usec = 1000000000;
  errno = 0;
  r = adjtimex(&t);
  check(r < 0 && errno == EINVAL, "ADJ_SETOFFSET with tv_nsec >= 1e9 is EINVAL", "r=%d", r);

  /* clock_settime is a step too */
  {
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 10;
    a = ts_ld(&ts);
    r = clock_settime(CLOCK_REALTIME, &ts);
    b = now(CLOCK_REALTIME);
    check(r == 0 && fabsl(b - a) < 1e-9L, "clock_settime sets REALTIME", "diff %.9Lf", b - a);
  }
  close(fd);
}

/* ================================================== */

static long double
rate_over(double secs)
{
  long double rt0 = now(CLOCK_REALTIME), raw0 = now(CLOCK_MONOTONIC_RAW), rt1, raw1;

  vsleep(secs);
  rt1 = now(CLOCK_REALTIME);
  raw1 = now(CLOCK_MONOTONIC_RAW);
  return (rt1 - rt0) / (raw1 - raw0);
}

/* Scenario: read_cost 0 */
static void
test_freq(void)
{
  struct timex t;
  long double rate;
  int r;

  memset(&t, 0, sizeof (t));
  t.modes = ADJ_FREQUENCY;
  t.freq = 100L << 16;
  adjtimex(&t);
  rate = rate_over(1000.0);
  check(fabsl(rate - (1.0L + 100e-6L)) < 1e-11L, "ADJ_FREQUENCY +100 ppm",
        "rate-1 = %.6Lf ppm", (rate - 1.0L) * 1e6L);

  memset(&t, 0, sizeof (t));
  t.modes = ADJ_FREQUENCY | ADJ_TICK;
  t.freq = 0;
  t.tick = 10100;
  adjtimex(&t);
  rate = rate_over(1000.0);
  check(fabsl(rate - 1.01L) < 1e-11L, "ADJ_TICK 10100 = +1 %", "rate-1 = %.6Lf ppm",
        (rate - 1.0L) * 1e6L);

  memset(&t, 0, sizeof (t));
  t.modes = ADJ_FREQUENCY | ADJ_TICK;
  t.freq = -(37L << 16);
  t.tick = 9999;
  adjtimex(&t);
  rate = rate_over(1000.0);
  check(fabsl(rate - (1.0L - 137e-6L)) < 1e-11L, "tick 9999 and freq -37 ppm = -137 ppm",
        "rate-1 = %.6Lf ppm", (rate - 1.0L) * 1e6L);

  memset(&t, 0, sizeof (t));
  t.modes = ADJ_FREQUENCY;
  t.freq = 600L << 16;
  adjtimex(&t);
  check(t.freq == (500L << 16), "frequency clamped to 500 ppm", "freq %ld", t.freq);

  memset(&t, 0, sizeof (t));
  t.modes = ADJ_TICK;
  t.tick = 12000;
  errno = 0;
  r = adjtimex(&t);
  check(r < 0 && errno == EINVAL, "tick outside +-10 % is EINVAL", "r=%d", r);

  memset(&t, 0, sizeof (t));
  r = adjtimex(&t);
  check(t.tick == 9999 && t.freq == (500L << 16), "read-only adjtimex returns the state",
        "tick %ld freq %ld", t.tick, t.freq);
}

/* ================================================== */

/* Scenario: pause of 5 s at t=100 (kvm-clock), no wander, no noise */
static void
test_pause(void)
{
  long double m0, r0, raw0, p0, m1, r1, raw1, p1;
  int fd = open_phc("/dev/ptp_kvm");

  vsleep(50.0);
  m0 = now(CLOCK_MONOTONIC);
  r0 = now(CLOCK_REALTIME);
  raw0 = now(CLOCK_MONOTONIC_RAW);
  p0 = now(FD_TO_CLOCKID(fd));
  vsleep(100.0);                 /* crosses the pause */
  m1 = now(CLOCK_MONOTONIC);
  r1 = now(CLOCK_REALTIME);
  raw1 = now(CLOCK_MONOTONIC_RAW);
  p1 = now(FD_TO_CLOCKID(fd));

  /* 1e-5: the reads themselves cost ~1.4 us of virtual time */
  check(fabsl((m1 - m0) - 100.0L) < 1e-5L, "MONOTONIC advanced by the sleep only",
        "%.9Lf", m1 - m0);
  check(fabsl((r1 - r0) - 100.0L) < 1e-5L, "REALTIME advanced by the sleep only",
        "%.9Lf", r1 - r0);
  check(fabsl((raw1 - raw0) - 100.0L) < 1e-5L, "MONOTONIC_RAW frozen during the pause",
        "%.9Lf", raw1 - raw0);
  check(fabsl((p1 - p0) - (100.0L / (1.0L + 37e-6L) + 5.0L)) < 1e-5L,
        "PHC jumped ahead by the 5 s pause", "PHC advanced %.9Lf", p1 - p0);
  close(fd);
}

/* Scenario: same pause in tsc mode: the guest clocks run on */
static void
test_pause_tsc(void)
{
  long double r0, p0, r1, p1;
  int fd = open_phc("/dev/ptp_kvm");

  vsleep(50.0);
  r0 = now(CLOCK_REALTIME);
  p0 = now(FD_TO_CLOCKID(fd));
  vsleep(100.0);
  r1 = now(CLOCK_REALTIME);
  p1 = now(FD_TO_CLOCKID(fd));
  check(fabsl((p1 - p0) - (r1 - r0) / (1.0L + 37e-6L)) < 1e-6L,
        "tsc mode: guest keeps running through a pause", "PHC %.9Lf guest %.9Lf", p1 - p0,
        r1 - r0);

  /* A wait that ends inside a pause (t = 150 + 52 = 202 in [200, 205))
     returns only at the resume: the paused VM executes nothing */
  r0 = now(CLOCK_MONOTONIC);
  vsleep(52.0);
  r1 = now(CLOCK_MONOTONIC);
  /* the guest booted 10 s before t=0: MONOTONIC = 10 + 1.000037 t */
  check(r0 < 10.0L + 200.0L && fabsl(r1 - (10.0L + 205.0L * (1.0L + 37e-6L))) < 1e-6L,
        "tsc mode: a wait ending in a pause returns at the resume",
        "woke at MONOTONIC %.9Lf", r1);
  close(fd);
}

/* ================================================== */

/* Scenario: clocksource tsc at t=100 */
static void
test_precise(void)
{
  struct ptp_sys_offset_precise sp;
  struct ptp_sys_offset_extended se;
  struct ptp_sys_offset so;
  struct ptp_clock_caps caps;
  int fd = open_phc("/dev/ptp_kvm"), r, i, ok;
  long double mid;

  memset(&caps, 0, sizeof (caps));
  r = ioctl(fd, PTP_CLOCK_GETCAPS, &caps);
  check(r == 0 && caps.cross_timestamping == 1, "GETCAPS reports cross_timestamping=1",
        "r=%d", r);
  r = get_precise(fd, &sp);
  check(r == 0 && fabsl(pt(&sp.sys_realtime) - pt(&sp.device) - 0.01L) < 1e-6L,
        "PRECISE works in kvm-clock mode", "r=%d", r);
  memset(&se, 0, sizeof (se));
  se.n_samples = 5;
  errno = 0;
  r = ioctl(fd, PTP_SYS_OFFSET_EXTENDED, &se);
  check(r < 0 && errno == EOPNOTSUPP, "EXTENDED fails with EOPNOTSUPP", "r=%d", r);

  memset(&so, 0, sizeof (so));
  so.n_samples = 25;
  r = ioctl(fd, PTP_SYS_OFFSET, &so);
  for (i = 0, ok = r == 0; ok && i < 25; i++) {
    mid = (pt(&so.ts[2 * i]) + pt(&so.ts[2 * i + 2])) / 2.0L;
    ok = pt(&so.ts[2 * i]) < pt(&so.ts[2 * i + 2]) && fabsl(mid - pt(&so.ts[2 * i + 1]) - 0.01L) < 1e-3L;
  }
  check(ok, "basic SYS_OFFSET returns 25 ordered samples", "r=%d i=%d", r, i);
  so.n_samples = 26;
  errno = 0;
  r = ioctl(fd, PTP_SYS_OFFSET, &so);
  check(r < 0 && errno == EINVAL, "SYS_OFFSET with 26 samples is EINVAL", "r=%d", r);

  vsleep(200.0);
  errno = 0;
  r = get_precise(fd, &sp);
  check(r < 0 && errno == ENODEV, "PRECISE fails with ENODEV in tsc mode", "r=%d errno=%d",
        r, errno);
  memset(&caps, 0, sizeof (caps));
  r = ioctl(fd, PTP_CLOCK_GETCAPS, &caps);
  check(r == 0 && caps.cross_timestamping == 1, "GETCAPS still says cross_timestamping=1",
        "r=%d", r);
  so.n_samples = 3;
  r = ioctl(fd, PTP_SYS_OFFSET2, &so);
  check(r == 0, "basic SYS_OFFSET2 still works in tsc mode", "r=%d", r);
  close(fd);
}

/* ================================================== */

static int
read_name(const char *path, char *buf, size_t len)
{
  FILE *f = fopen(path, "r");

  if (!f)
    return -1;
  if (!fgets(buf, len, f))
    buf[0] = '\0';
  buf[strcspn(buf, "\n")] = '\0';
  fclose(f);
  return 0;
}

/* Scenario: ptp0 = NIC (ice, offset 37 s), ptp1 = KVM */
static void
test_sysfs(void)
{
  char name[128], link[64];
  struct ptp_clock_caps caps;
  struct ptp_sys_offset_extended se;
  struct dirent *de;
  struct stat st;
  int n = 0, fd, r;
  ssize_t l;
  DIR *d;

  d = opendir("/sys/class/ptp");
  while (d && (de = readdir(d))) {
    if (!strncmp(de->d_name, "ptp", 3))
      n++;
  }
  if (d)
    closedir(d);
  check(n == 2, "opendir(/sys/class/ptp) lists 2 PHCs", "%d", n);
  r = read_name("/sys/class/ptp/ptp0/clock_name", name, sizeof (name));
  check(r == 0 && !strcmp(name, "ice-0000:3b:00.0"), "ptp0 clock_name is the NIC", "'%s'", name);
  r = read_name("/sys/class/ptp/ptp1/clock_name", name, sizeof (name));
  check(r == 0 && !strcmp(name, "KVM virtual PTP"), "ptp1 clock_name is KVM", "'%s'", name);
  fd = open("/sys/class/ptp/ptp1/dev", O_RDONLY);
  l = fd >= 0 ? read(fd, name, sizeof (name) - 1) : -1;
  if (fd >= 0)
    close(fd);
  check(l > 0 && !strncmp(name, "246:1", 5), "open()/read() of ptp1/dev", "l=%zd", l);
  l = readlink("/dev/ptp_kvm", link, sizeof (link) - 1);
  if (l >= 0)
    link[l] = '\0';
  check(l > 0 && !strcmp(link, "ptp1"), "/dev/ptp_kvm -> ptp1", "l=%zd", l);
  r = stat("/dev/ptp1", &st);
  check(r == 0 && S_ISCHR(st.st_mode), "stat(/dev/ptp1) is a character device", "r=%d", r);
  r = access("/dev/ptp7", F_OK);
  check(r < 0 && errno == ENOENT, "access(/dev/ptp7) is ENOENT", "r=%d", r);

  fd = open_phc("/dev/ptp0");
  memset(&caps, 0, sizeof (caps));
  ioctl(fd, PTP_CLOCK_GETCAPS, &caps);
  check(caps.cross_timestamping == 0 && caps.n_ext_ts == 3, "NIC caps differ from KVM", "");
  r = fstat(fd, &st);
  check(r == 0 && S_ISCHR(st.st_mode) && minor(st.st_rdev) == 0,
        "fstat of the ptp0 fd is character device 246:0", "r=%d", r);
  close(fd);
  fd = open_phc("/dev/ptp_kvm");
  r = fstat(fd, &st);
  check(r == 0 && S_ISCHR(st.st_mode) && major(st.st_rdev) == 246 && minor(st.st_rdev) == 1,
        "fstat of the /dev/ptp_kvm fd matches ptp1/dev (246:1)", "r=%d", r);
  close(fd);
  fd = open_phc("/dev/ptp0");
  memset(&se, 0, sizeof (se));
  se.n_samples = 3;
  r = ioctl(fd, PTP_SYS_OFFSET_EXTENDED, &se);
  check(r == 0 && fabsl(pt(&se.ts[0][1]) - pt(&se.ts[0][0]) - 37.0L) < 0.1L,
        "NIC supports EXTENDED and runs 37 s ahead", "r=%d", r);
  close(fd);
}

/* ================================================== */

/* Scenario: device appears at 30 s; hostfail 100-200; eintr p=1 300-310;
   garbage p=1 400-410 */
static void
test_faults(void)
{
  struct ptp_sys_offset so;
  char name[128];
  int fd, r;

  errno = 0;
  fd = open("/dev/ptp_kvm", O_RDONLY);
  check(fd < 0 && errno == ENOENT, "device absent before it appears", "fd=%d", fd);
  check(read_name("/sys/class/ptp/ptp0/clock_name", name, sizeof (name)) < 0,
        "sysfs entry absent before the device appears", "");
  vsleep(40.0);
  fd = open("/dev/ptp_kvm", O_RDONLY);
  check(fd >= 0, "device present after 30 s", "fd=%d", fd);
  check(read_name("/sys/class/ptp/ptp0/clock_name", name, sizeof (name)) == 0,
        "sysfs entry present after 30 s", "");

  vsleep(100.0);
  memset(&so, 0, sizeof (so));
  so.n_samples = 5;
  errno = 0;
  r = ioctl(fd, PTP_SYS_OFFSET, &so);
  check(r < 0 && errno == EOPNOTSUPP, "host cannot answer: EOPNOTSUPP", "r=%d", r);
  vsleep(100.0);
  r = ioctl(fd, PTP_SYS_OFFSET, &so);
  check(r == 0, "host answers again after the window", "r=%d", r);
  vsleep(100.0);
  errno = 0;
  r = ioctl(fd, PTP_SYS_OFFSET, &so);
  check(r < 0 && errno == EINTR, "EINTR window", "r=%d", r);
  vsleep(100.0);
  r = ioctl(fd, PTP_SYS_OFFSET, &so);
  /* the guest starts 10 ms ahead and drifts < 40 ms by now */
  check(r == 0 && fabsl(pt(&so.ts[1]) - pt(&so.ts[0]) + 0.01L) > 0.1L, "garbage readings",
        "r=%d", r);
  vsleep(20.0);
  r = ioctl(fd, PTP_SYS_OFFSET, &so);
  check(r == 0 && fabsl(pt(&so.ts[1]) - pt(&so.ts[0]) + 0.01L) < 0.1L, "sane readings after garbage",
        "r=%d", r);
  vsleep(100.0);
  errno = 0;
  r = ioctl(fd, PTP_SYS_OFFSET, &so);
  check(r < 0 && errno == ENODEV, "device gone: ENODEV on the open fd", "r=%d", r);
  close(fd);
}

/* ================================================== */

/* Run a child mode in a fresh process (exec, so that the interposer
   simulates it from the start; its truth log is discarded) */
static int
child_status(const char *mode)
{
  pid_t pid;
  int st;

  fflush(stdout);
  pid = fork();
  if (pid == 0) {
    int null = open("/dev/null", O_WRONLY);

    dup2(null, 1);
    dup2(null, 2);
    unsetenv("SIM_TRUTH");
    execl("/proc/self/exe", "sim_selftest", mode, (char *)NULL);
    _exit(127);
  }
  waitpid(pid, &st, 0);
  return st;
}

static void
unmodelled_pll(void)
{
  struct timex t;

  memset(&t, 0, sizeof (t));
  t.modes = ADJ_OFFSET;
  t.offset = 1000;
  adjtimex(&t);
}

static void
unmodelled_ioctl(void)
{
  int fd = open("/dev/ptp_kvm", O_RDONLY), x = 0;

  if (fd < 0)
    _exit(10);
  ioctl(fd, PTP_ENABLE_PPS, &x);
}

/* libseccomp's struct scmp_arg_cmp and SCMP_A1(SCMP_CMP_EQ, x) */
struct arg_cmp {
  unsigned int arg;
  int op;
  unsigned long long a, b;
};

static void
seccomp_filter(int allow_getcaps)
{
  struct ptp_clock_caps caps;
  struct ptp_sys_offset so;
  void *(*init_fn)(unsigned int);
  int (*load_fn)(void *);
  int (*add_fn)(void *, unsigned int, int, unsigned int, ...);
  struct arg_cmp cmp = {1, 4, PTP_SYS_OFFSET, 0};
  void *ctx;
  int fd = open("/dev/ptp_kvm", O_RDONLY);

  if (!dlopen("libseccomp.so.2", RTLD_NOW | RTLD_GLOBAL))
    _exit(10);
  init_fn = dlsym(RTLD_DEFAULT, "seccomp_init");
  load_fn = dlsym(RTLD_DEFAULT, "seccomp_load");
  add_fn = dlsym(RTLD_DEFAULT, "seccomp_rule_add");
  if (!init_fn || !load_fn || !add_fn)
    _exit(11);
  ctx = init_fn(0x00000000U);    /* SCMP_ACT_KILL, like chronyd -F 1 */
  /* allow ioctl(fd, PTP_SYS_OFFSET) as chronyd does */
  if (add_fn(ctx, 0x7fff0000U, SYS_ioctl, 1, cmp) < 0)
    _exit(14);
  cmp.a = PTP_CLOCK_GETCAPS;
  if (allow_getcaps && add_fn(ctx, 0x7fff0000U, SYS_ioctl, 1, cmp) < 0)
    _exit(14);
  if (load_fn(ctx) != 0)
    _exit(12);
  memset(&so, 0, sizeof (so));
  so.n_samples = 1;
  if (ioctl(fd, PTP_SYS_OFFSET, &so) != 0)
    _exit(13);                   /* allowed by chronyd's list */
  if (ioctl(fd, PTP_CLOCK_GETCAPS, &caps) != 0)
    _exit(15);
  _exit(0);
}

static void
seccomp_getcaps(void)
{
  seccomp_filter(0);
}

static void
seccomp_getcaps_allowed(void)
{
  seccomp_filter(1);
}

static void
test_loud(void)
{
  int st;

  st = child_status("child-pll");
  check(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "unmodelled PLL offset aborts", "st=%d", st);
  st = child_status("child-ioctl");
  check(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "unmodelled ioctl aborts", "st=%d", st);
  st = child_status("child-seccomp");
  check(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS,
        "GETCAPS after seccomp_load (not in the allow-list) is killed with SIGSYS",
        "st=0x%x", st);
  st = child_status("child-seccomp-allowed");
  check(WIFEXITED(st) && WEXITSTATUS(st) == 0,
        "GETCAPS allowed by a seccomp_rule_add works", "st=0x%x", st);
}

/* ================================================== */

static volatile sig_atomic_t got_term;

static void
on_term(int sig)
{
  got_term = 1;
}

static double
real_elapsed(const struct timespec *t0)
{
  struct timespec t1;

  /* CPU time is not simulated: a real measure of elapsed work */
  syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &t1);
  return (t1.tv_sec - t0->tv_sec) + (t1.tv_nsec - t0->tv_nsec) * 1e-9;
}

/* Scenario: read_cost 0, duration 1000 (pace from SIM_PACE) */
static void
test_wait(void)
{
  struct timeval tv;
  struct timespec ts, t0;
  struct pollfd pfd;
  long double a, b;
  int p[2], r;
  fd_set rfds;

  if (pipe(p) < 0)
    exit(2);

  FD_ZERO(&rfds);
  FD_SET(p[0], &rfds);
  tv.tv_sec = 7;
  tv.tv_usec = 250000;
  a = now(CLOCK_MONOTONIC);
  r = select(p[0] + 1, &rfds, NULL, NULL, &tv);
  b = now(CLOCK_MONOTONIC);
  check(r == 0 && !FD_ISSET(p[0], &rfds) && fabsl(b - a - 7.25L) < 1e-9L,
        "select() with no ready fd advances virtual time by the timeout",
        "r=%d advanced %.9Lf", r, b - a);

  if (write(p[1], "x", 1) != 1)
    exit(2);
  FD_ZERO(&rfds);
  FD_SET(p[0], &rfds);
  tv.tv_sec = 7;
  tv.tv_usec = 0;
  a = now(CLOCK_MONOTONIC);
  r = select(p[0] + 1, &rfds, NULL, NULL, &tv);
  b = now(CLOCK_MONOTONIC);
  check(r == 1 && FD_ISSET(p[0], &rfds) && b - a < 1e-3L,
        "select() returns a ready real fd at once", "r=%d advanced %.9Lf", r, b - a);

  pfd.fd = p[0];
  pfd.events = POLLIN;
  r = poll(&pfd, 1, 5000);
  check(r == 1 && (pfd.revents & POLLIN), "poll() returns a ready real fd", "r=%d", r);
  if (read(p[0], &r, 1) != 1)
    exit(2);
  a = now(CLOCK_MONOTONIC);
  r = poll(&pfd, 1, 3000);
  b = now(CLOCK_MONOTONIC);
  check(r == 0 && fabsl(b - a - 3.0L) < 1e-9L, "poll() timeout advances 3 s", "r=%d %.9Lf", r,
        b - a);

  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_sec += 10;
  a = ts_ld(&ts);
  r = clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &ts, NULL);
  b = now(CLOCK_REALTIME);
  check(r == 0 && b >= a && b - a < 1e-6L, "clock_nanosleep(TIMER_ABSTIME) wakes at the time",
        "r=%d late %.9Lf", r, b - a);

  /* 100 s of virtual sleep: unbounded pace takes (almost) no real time;
     SIM_PACE=k takes 100/k s */
  syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &t0);
  a = now(CLOCK_MONOTONIC);
  vsleep(100.0);
  b = now(CLOCK_MONOTONIC);
  check(fabsl(b - a - 100.0L) < 1e-9L, "a 100 s sleep advances virtual time by 100 s",
        "%.9Lf", b - a);
  printf("info: real time for 100 s of virtual sleep: %.3f s\n", real_elapsed(&t0));
  if (getenv("SIM_PACE") && atof(getenv("SIM_PACE")) > 0) {
    double expect = 100.0 / atof(getenv("SIM_PACE")), got = real_elapsed(&t0);

    /* lower bound only: the machine may be slow, never faster than paced */
    check(got >= 0.9 * expect, "paced sleep takes at least 100/SIM_PACE s of real time",
          "%.3f s < %.3f s", got, expect);
  }

  /* The scenario end (1000 s) raises SIGTERM and interrupts the wait */
  signal(SIGTERM, on_term);
  errno = 0;
  r = nanosleep(&(struct timespec){5000, 0}, NULL);
  check(got_term && r < 0 && errno == EINTR, "scenario end raises SIGTERM and interrupts the wait",
        "term=%d r=%d errno=%d", (int)got_term, r, errno);
}

/* ================================================== */

/* Noisy reads for the determinism check: prints values that depend on
   every random stream */
static void
test_noise(void)
{
  struct ptp_sys_offset so;
  int fd = open_phc("/dev/ptp_kvm"), i, j, n_read = 0;

  for (i = 0; i < 200; i++) {
    memset(&so, 0, sizeof (so));
    so.n_samples = 10;
    if (ioctl(fd, PTP_SYS_OFFSET, &so) < 0)
      continue;
    n_read++;
    for (j = 0; j < 10; j++)
      printf("%lld.%09u %lld.%09u\n", (long long)so.ts[2 * j].sec, so.ts[2 * j].nsec,
             (long long)so.ts[2 * j + 1].sec, so.ts[2 * j + 1].nsec);
    vsleep(1.0);
  }
  check(n_read > 0, "noise: readings printed for the determinism check", "none");
}


/* ================================================== */

static long double
rt_minus_phc(int fd)
{
  struct ptp_sys_offset_precise sp;

  if (get_precise(fd, &sp) == 0)
    return pt(&sp.sys_realtime) - pt(&sp.device);
  return now(CLOCK_REALTIME) - now(FD_TO_CLOCKID(fd));
}

/* Scenario: guest_step -360.5 at 100, +0.25 at 200 (another program's
   settimeofday) */
static void
test_guest_step(void)
{
  static const double sizes[] = {-360.5, 0.25};
  long double r0, m0, b0, w0, o0, r1, m1, b1, w1, o1;
  struct timex t;
  int fd = open_phc("/dev/ptp_kvm"), i;

  vsleep(50.0);
  for (i = 0; i < 2; i++) {
    memset(&t, 0, sizeof (t));
    t.modes = ADJ_STATUS;
    t.status = 0;
    adjtimex(&t);                /* clear STA_UNSYNC */
    o0 = rt_minus_phc(fd);
    r0 = now(CLOCK_REALTIME);
    m0 = now(CLOCK_MONOTONIC);
    b0 = now(CLOCK_BOOTTIME);
    w0 = now(CLOCK_MONOTONIC_RAW);
    vsleep(100.0);               /* crosses the step */
    r1 = now(CLOCK_REALTIME);
    m1 = now(CLOCK_MONOTONIC);
    b1 = now(CLOCK_BOOTTIME);
    w1 = now(CLOCK_MONOTONIC_RAW);
    o1 = rt_minus_phc(fd);
    check(fabsl((r1 - r0) - (100.0L + sizes[i])) < 1e-5L, "guest_step moves REALTIME by its size",
          "size %.3f: moved %.9Lf", sizes[i], r1 - r0 - 100.0L);
    check(fabsl((o1 - o0) - sizes[i]) < 1e-5L, "guest_step moves the offset to the PHC",
          "size %.3f: %.9Lf", sizes[i], o1 - o0);
    check(fabsl((m1 - m0) - 100.0L) < 1e-5L && fabsl((b1 - b0) - 100.0L) < 1e-5L &&
          fabsl((w1 - w0) - 100.0L) < 1e-5L,
          "guest_step leaves MONOTONIC, BOOTTIME and MONOTONIC_RAW alone",
          "%.9Lf %.9Lf %.9Lf", m1 - m0, b1 - b0, w1 - w0);
    memset(&t, 0, sizeof (t));
    adjtimex(&t);
    check(t.status & STA_UNSYNC, "guest_step clears the NTP state (STA_UNSYNC)",
          "status 0x%x", t.status);
  }
  close(fd);
}

/* ================================================== */

/* Scenario: suspend 50 s at 100.3 and at 300.3, guest_step +5 at 200
   (kvm wall clock: persistent_clock kvm) */
static void
test_suspend(void)
{
  long double o0, o1, m0, m1, w0, w1, b0, b1, r0, r1;
  int fd = open_phc("/dev/ptp_kvm");

  vsleep(90.0);
  o0 = rt_minus_phc(fd);
  m0 = now(CLOCK_MONOTONIC);
  b0 = now(CLOCK_BOOTTIME);
  w0 = now(CLOCK_MONOTONIC_RAW);
  r0 = now(CLOCK_REALTIME);
  vsleep(20.0);                  /* crosses the suspend: returns 50 s later */
  m1 = now(CLOCK_MONOTONIC);
  b1 = now(CLOCK_BOOTTIME);
  w1 = now(CLOCK_MONOTONIC_RAW);
  r1 = now(CLOCK_REALTIME);
  o1 = rt_minus_phc(fd);
  check(fabsl((m1 - m0) - 20.0L) < 1e-5L && fabsl((w1 - w0) - 20.0L) < 1e-5L,
        "suspend: MONOTONIC and MONOTONIC_RAW do not advance while suspended",
        "%.9Lf %.9Lf", m1 - m0, w1 - w0);
  check(fabsl((b1 - b0) - (r1 - r0)) < 1e-5L && r1 - r0 > 69.0L,
        "suspend: BOOTTIME steps with REALTIME by the injected sleep time",
        "boot %.9Lf real %.9Lf", b1 - b0, r1 - r0);
  /* first suspend, guest 10 ms off (< 2 s): the kernel compensates
     timekeeping_suspend_time so the guest lands on the persistent clock */
  check(o0 > 0.009L && fabsl(o1) < 1e-5L,
        "suspend: within 2 s of the kvm wall clock the guest resumes on it",
        "before %.9Lf after %.9Lf", o0, o1);

  vsleep(80.0);                  /* guest_step +5 at 200 */
  o0 = rt_minus_phc(fd);
  vsleep(100.0);                 /* crosses the second suspend */
  o1 = rt_minus_phc(fd);
  check(fabsl(o0 - 5.0L) < 1e-3L && fabsl(o1 - o0) < 1e-5L,
        "suspend: a guest >= 2 s off gets exactly the slept time (offset kept)",
        "before %.9Lf after %.9Lf", o0, o1);
  close(fd);
}

/* Scenario: persistent_clock rtc, suspend 50 s at 100.3 */
static void
test_suspend_rtc(void)
{
  long double o1;
  int fd = open_phc("/dev/ptp_kvm");

  vsleep(200.0);
  o1 = rt_minus_phc(fd);
  /* RTC seconds: resumes at floor(150.3) = 150 while the host is at 150.3 */
  check(fabsl(o1 + 0.3L) < 1e-4L, "suspend with the RTC: 1 s granularity leaves -0.3 s",
        "after %.9Lf", o1);
  close(fd);
}

/* ================================================== */

/* Scenario: migrate 30 s at 100 (kvm-clock), clocksource tsc at 150,
   migrate 30 s at 200 */
static void
test_migrate(void)
{
  long double o0, o1, m0, m1;
  struct ptp_sys_offset_precise sp;
  int fd = open_phc("/dev/ptp_kvm"), r;

  vsleep(90.0);
  o0 = rt_minus_phc(fd);
  vsleep(20.0);
  o1 = rt_minus_phc(fd);
  check(fabsl((o1 - o0) + 0.1L) < 1e-5L,
        "migrate, kvm-clock: the guest loses only migrate_freeze (0.1 s)",
        "lost %.9Lf", o0 - o1);
  vsleep(60.0);                  /* t = 190, tsc since 150 */
  o0 = rt_minus_phc(fd);
  m0 = now(CLOCK_MONOTONIC);
  vsleep(20.0);
  m1 = now(CLOCK_MONOTONIC);
  o1 = rt_minus_phc(fd);
  check(fabsl((o1 - o0) + 30.0L) < 1e-5L && fabsl(m1 - m0 - 20.0L) < 1e-5L,
        "migrate, tsc: the TSC written back, guest clocks frozen for the 30 s",
        "lost %.9Lf mono %.9Lf", o0 - o1, m1 - m0);
  errno = 0;
  r = get_precise(fd, &sp);
  check(r < 0 && errno == ENODEV, "migrate, tsc: PRECISE stays unavailable", "r=%d", r);
  close(fd);
}

/* ================================================== */

static int
set_status(int status, int *state)
{
  struct timex t;
  int r;

  memset(&t, 0, sizeof (t));
  t.modes = ADJ_STATUS;
  t.status = status;
  r = adjtimex(&t);
  if (state)
    *state = r;
  return t.tai;
}

static int
read_state(int *tai)
{
  struct timex t;
  int r;

  memset(&t, 0, sizeof (t));
  r = adjtimex(&t);
  if (tai)
    *tai = t.tai;
  return r;
}

/* Scenario: epoch so that t=1000 is 2017-01-01T00:00:00Z, host_leap +1 at
   1000, host_leap -1 at 87399 (23:59:59 on 2017-01-01) */
static void
test_leap(void)
{
  long double o0, o1, r0, r1, m0, m1;
  int fd = open_phc("/dev/ptp_kvm"), st, tai0, tai1;
  struct timex t;

  /* Without leap information: the host repeats a second, the guest not */
  set_status(0, NULL);
  vsleep(995.0);
  o0 = rt_minus_phc(fd);
  vsleep(10.0);
  o1 = rt_minus_phc(fd);
  check(fabsl((o1 - o0) - 1.0L) < 1e-5L, "host_leap +1 without STA_INS: guest 1 s ahead",
        "%.9Lf", o1 - o0);

  /* The guest is stepped back onto the host, then told to insert: its
     REALTIME repeats 23:59:59 at its own midnight, MONOTONIC does not;
     adjtimex() returns TIME_INS, TIME_OOP during the leap, TIME_WAIT
     after, TIME_OK when STA_INS is cleared; TAI offset +1 */
  memset(&t, 0, sizeof (t));
  t.modes = ADJ_TAI;
  t.constant = 36;
  adjtimex(&t);
  vsleep(86000.0);               /* t = 87005 */
  setoffset(-rt_minus_phc(fd));
  set_status(STA_DEL, &st);
  read_state(&tai0);
  check(st == TIME_DEL, "STA_DEL: adjtimex returns TIME_DEL", "%d", st);
  o0 = rt_minus_phc(fd);
  r0 = now(CLOCK_REALTIME);
  m0 = now(CLOCK_MONOTONIC);
  vsleep(400.0);                 /* crosses 23:59:59 (host at 87399) */
  r1 = now(CLOCK_REALTIME);
  m1 = now(CLOCK_MONOTONIC);
  o1 = rt_minus_phc(fd);
  st = read_state(&tai1);
  check(fabsl((r1 - r0) - (m1 - m0) - 1.0L) < 1e-5L && fabsl(o1 - o0) < 1e-4L,
        "STA_DEL: the guest skips 23:59:59 with the host", "rt-mono %.9Lf offset %.9Lf",
        (r1 - r0) - (m1 - m0), o1 - o0);
  check(st == TIME_WAIT && tai1 == tai0 - 1, "after a deletion: TIME_WAIT, TAI offset -1",
        "state %d tai %d -> %d", st, tai0, tai1);
  set_status(0, &st);
  check(st == TIME_OK, "clearing STA_DEL returns TIME_OK", "%d", st);

  /* Insertion on the next day: 2017-01-03 00:00 = t 173800 */
  vsleep(86000.0);               /* t ~ 173405 */
  set_status(STA_INS, &st);
  check(st == TIME_INS, "STA_INS: adjtimex returns TIME_INS", "%d", st);
  read_state(&tai0);
  r0 = now(CLOCK_REALTIME);
  m0 = now(CLOCK_MONOTONIC);
  vsleep((double)(1483401600.5L - now(CLOCK_REALTIME)));   /* 2017-01-03 00:00:00.5 */
  st = read_state(NULL);
  r1 = now(CLOCK_REALTIME);
  m1 = now(CLOCK_MONOTONIC);
  check(st == TIME_OOP && fabsl((r1 - r0) - (m1 - m0) + 1.0L) < 1e-5L,
        "STA_INS: REALTIME repeats 23:59:59 at midnight (TIME_OOP during it)",
        "state %d rt-mono %.9Lf", st, (r1 - r0) - (m1 - m0));
  vsleep(2.0);
  st = read_state(&tai1);
  check(st == TIME_WAIT && tai1 == tai0 + 1, "after an insertion: TIME_WAIT, TAI offset +1",
        "state %d tai %d -> %d", st, tai0, tai1);
  check(fabsl(now(CLOCK_TAI) - now(CLOCK_REALTIME) - tai1) < 1e-5L,
        "CLOCK_TAI = REALTIME + the TAI offset", "");
  close(fd);
}

/* ================================================== */

/* Scenario: precise_einval 10 s (p = 1) at 100 */
static void
test_einval(void)
{
  struct ptp_sys_offset_precise sp;
  int fd = open_phc("/dev/ptp_kvm"), r1, r2, r3, e2;

  vsleep(50.0);
  r1 = get_precise(fd, &sp);
  vsleep(55.0);
  errno = 0;
  r2 = get_precise(fd, &sp);
  e2 = errno;
  vsleep(10.0);
  r3 = get_precise(fd, &sp);
  check(r1 == 0 && r2 < 0 && e2 == EINVAL && r3 == 0,
        "precise_einval: PRECISE fails with EINVAL in the window only", "%d %d/%d %d", r1, r2,
        e2, r3);
  close(fd);
}

/* ================================================== */

/* Scenario: kernel_pre50 1, hostfail 100 s at 100 */
static void
test_pre50(void)
{
  struct ptp_sys_offset_extended se;
  struct ptp_sys_offset_precise sp;
  struct ptp_clock_caps caps;
  struct ptp_sys_offset so;
  int fd = open_phc("/dev/ptp_kvm"), r, i, same;

  memset(&se, 0, sizeof (se));
  se.n_samples = 3;
  errno = 0;
  r = ioctl(fd, PTP_SYS_OFFSET_EXTENDED, &se);
  check(r < 0 && errno == ENOTTY, "pre-5.0: EXTENDED is ENOTTY", "r=%d errno=%d", r, errno);
  errno = 0;
  r = ioctl(fd, PTP_SYS_OFFSET_PRECISE2, &sp);
  check(r < 0 && errno == ENOTTY, "pre-5.0: PRECISE2 is ENOTTY", "r=%d", r);
  errno = 0;
  r = ioctl(fd, PTP_CLOCK_GETCAPS2, &caps);
  check(r < 0 && errno == ENOTTY, "pre-5.0: GETCAPS2 is ENOTTY", "r=%d", r);
  r = ioctl(fd, PTP_CLOCK_GETCAPS, &caps);
  check(r == 0 && caps.cross_timestamping, "pre-5.0: GETCAPS works", "r=%d", r);

  memset(&so, 0, sizeof (so));
  so.n_samples = 5;
  r = ioctl(fd, PTP_SYS_OFFSET, &so);
  for (i = 0, same = 0; r == 0 && i < 5; i++)
    same += !memcmp(&so.ts[2 * i], &so.ts[2 * i + 1], sizeof (so.ts[0]));
  check(r == 0 && same == 0, "pre-5.0: SYS_OFFSET with the host answering", "r=%d same=%d", r,
        same);
  vsleep(150.0);
  r = ioctl(fd, PTP_SYS_OFFSET, &so);
  for (i = 0, same = 0; r == 0 && i < 5; i++)
    same += !memcmp(&so.ts[2 * i], &so.ts[2 * i + 1], sizeof (so.ts[0]));
  check(r == 0 && same == 5,
        "pre-5.0: host failing, SYS_OFFSET succeeds with PHC = preceding system timestamp",
        "r=%d same=%d", r, same);
  errno = 0;
  r = get_precise(fd, &sp);
  check(r < 0 && errno == EOPNOTSUPP, "pre-5.0: PRECISE fails with EOPNOTSUPP", "r=%d", r);
  close(fd);
}

/* ================================================== */

/* Scenario: hostfail 100 s at 10; PRECISE and SYS_OFFSET every 0.1 s
   (selftest.sh checks the counts of the exit event) */
static void
test_klog(void)
{
  struct ptp_sys_offset_precise sp;
  struct ptp_sys_offset so;
  int fd = open_phc("/dev/ptp_kvm"), i, fails = 0;

  vsleep(10.0);
  for (i = 0; i < 1000; i++) {
    fails += get_precise(fd, &sp) < 0;
    memset(&so, 0, sizeof (so));
    so.n_samples = 5;
    fails += ioctl(fd, PTP_SYS_OFFSET, &so) < 0;
    vsleep(0.1);
  }
  check(fails == 2000, "klog: 2000 failed ioctls while the host cannot answer", "%d", fails);
  close(fd);
}

/* ================================================== */

/* Scenario: sys_ts_noise 5e-6 */
static void
test_tsnoise(void)
{
  struct ptp_sys_offset so;
  int fd = open_phc("/dev/ptp_kvm"), i, j, unordered = 0, bad = 0;
  long double mid;

  for (i = 0; i < 100; i++) {
    memset(&so, 0, sizeof (so));
    so.n_samples = 25;
    if (ioctl(fd, PTP_SYS_OFFSET, &so) < 0)
      bad++;
    for (j = 0; j < 25; j++) {
      unordered += pt(&so.ts[2 * j + 2]) < pt(&so.ts[2 * j]);
      mid = (pt(&so.ts[2 * j]) + pt(&so.ts[2 * j + 2])) / 2.0L;
      bad += fabsl(mid - pt(&so.ts[2 * j + 1]) - 0.01L) > 1e-3L;
    }
    vsleep(1.0);
  }
  check(unordered > 100 && bad == 0,
        "sys_ts_noise: system timestamps out of order, PHC readings unchanged",
        "unordered %d bad %d", unordered, bad);
  close(fd);
}

/* Scenario: phc_ts_noise 5e-6: the PHC timestamps out of order, the
   system timestamps in order */
static void
test_phcnoise(void)
{
  struct ptp_sys_offset so;
  int fd = open_phc("/dev/ptp_kvm"), i, j, phc_unordered = 0, sys_unordered = 0, bad = 0;
  long double mid;

  for (i = 0; i < 100; i++) {
    memset(&so, 0, sizeof (so));
    so.n_samples = 25;
    if (ioctl(fd, PTP_SYS_OFFSET, &so) < 0)
      bad++;
    for (j = 0; j < 25; j++) {
      sys_unordered += pt(&so.ts[2 * j + 2]) < pt(&so.ts[2 * j]);
      if (j > 0)
        phc_unordered += pt(&so.ts[2 * j + 1]) < pt(&so.ts[2 * j - 1]);
      mid = (pt(&so.ts[2 * j]) + pt(&so.ts[2 * j + 2])) / 2.0L;
      bad += fabsl(mid - pt(&so.ts[2 * j + 1]) - 0.01L) > 1e-3L;
    }
    vsleep(1.0);
  }
  check(phc_unordered > 100 && sys_unordered == 0 && bad == 0,
        "phc_ts_noise: PHC timestamps out of order, system timestamps in order",
        "phc %d sys %d bad %d", phc_unordered, sys_unordered, bad);
  close(fd);
}

/* ================================================== */

/* Scenario: pause of 12 days at 100 (selftest.sh checks the log size) */
static void
test_longpause(void)
{
  long double m0, m1;

  m0 = now(CLOCK_MONOTONIC);
  vsleep(200.0);
  m1 = now(CLOCK_MONOTONIC);
  check(fabsl(m1 - m0 - 200.0L) < 1e-5L, "a 12-day pause: MONOTONIC frozen through it",
        "%.9Lf", m1 - m0);
}

/* ================================================== */

static int
bounding_has_sys_time(void)
{
  char line[256];
  unsigned long long bnd = ~0ULL;
  FILE *f = fopen("/proc/self/status", "r");

  while (f && fgets(line, sizeof (line), f)) {
    if (!strncmp(line, "CapBnd:", 7))
      bnd = strtoull(line + 7, NULL, 16);
  }
  if (f)
    fclose(f);
  return (bnd >> 25) & 1;        /* CAP_SYS_TIME = 25 */
}

/* Run WITHOUT the interposer's help: raw syscalls, no-op requests only */
static void
test_safety(void)
{
  struct timex t;
  long r;

  check(!bounding_has_sys_time(), "CAP_SYS_TIME is not in the bounding set", "");

  /* Read the current kernel frequency (allowed without privileges) ... */
  memset(&t, 0, sizeof (t));
  r = syscall(SYS_adjtimex, &t);
  check(r >= 0, "raw adjtimex read works", "r=%ld errno=%d", r, errno);
  /* ... and set it to exactly that value: a no-op even if the drop failed */
  t.modes = ADJ_FREQUENCY;
  errno = 0;
  r = syscall(SYS_adjtimex, &t);
  check(r < 0 && errno == EPERM, "raw adjtimex(ADJ_FREQUENCY, same value) fails with EPERM",
        "r=%ld errno=%d", r, errno);

  /* ADJ_SETOFFSET of zero through clock_adjtime */
  memset(&t, 0, sizeof (t));
  t.modes = ADJ_SETOFFSET | ADJ_NANO;
  errno = 0;
  r = syscall(SYS_clock_adjtime, CLOCK_REALTIME, &t);
  check(r < 0 && errno == EPERM, "raw clock_adjtime(ADJ_SETOFFSET 0) fails with EPERM",
        "r=%ld errno=%d", r, errno);

  /* The interposed call is emulated and succeeds */
  memset(&t, 0, sizeof (t));
  t.modes = ADJ_SETOFFSET | ADJ_NANO;
  r = clock_adjtime(CLOCK_REALTIME, &t);
  check(r >= 0, "interposed clock_adjtime(ADJ_SETOFFSET 0) is emulated", "r=%ld", r);
}

/* ================================================== */

extern int __fprintf_chk(FILE *f, int flag, const char *fmt, ...);

/* chronyd's selection log lines, written the ways chronyd writes them
   (fprintf, or __fprintf_chk with _FORTIFY_SOURCE), 10 s of virtual time
   apart; selftest.sh checks the selection events in the truth log.  A
   matching line on another stream must not be copied. */
static void
test_logtap(void)
{
  struct timespec ts = {10, 0};
  FILE *other = fopen("/dev/null", "w");
  int r;

  r = fprintf(stderr, "%s\n", "Selected source TAP0");
  check(r == 21, "fprintf(stderr) passes the line on", "r=%d", r);
  nanosleep(&ts, NULL);
  r = __fprintf_chk(stderr, 1, "%s\n", "Can't synchronise: no selectable sources");
  check(r == 41, "__fprintf_chk(stderr) passes the line on", "r=%d", r);
  nanosleep(&ts, NULL);
  r = fprintf(other, "Selected source NOT0\n");
  check(r == 21, "fprintf(other stream) passes the line on", "r=%d", r);
  fclose(other);
  r = fprintf(stderr, "2026-01-01T00:00:00Z Reset all sources\n");
  check(r == 39, "fprintf(stderr) with a timestamp passes the line on", "r=%d", r);
}

/* ================================================== */

/* A query is due at 10 s during a 20 s sleep (scenario `at 10 query q1`):
   the sleep must still last exactly 20 s of guest time; selftest.sh checks
   the query's events and output */
static void
test_query(void)
{
  struct timespec t0, t1, req = {20, 0};
  long double d;

  clock_gettime(CLOCK_MONOTONIC, &t0);
  nanosleep(&req, NULL);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  d = ts_ld(&t1) - ts_ld(&t0);
  check(fabsl(d - 20.0L) < 1e-9L, "a sleep across a query lasts its full time", "%.12Lf", d);
}

/* ================================================== */

static long double
ntp_ts(const unsigned char *p)
{
  uint32_t sec, frac;

  memcpy(&sec, p, 4);
  memcpy(&frac, p + 4, 4);
  return ntohl(sec) - 2208988800.0L + ntohl(frac) / 4294967296.0L;
}

/* Scenario: guest 0.25 s ahead of the host, NTP one-way delay 1 ms without
   jitter, 0.4 ms more on the way back.  One client exchange with the
   simulated server as chronyd makes it (connected socket, sendmsg,
   select, recvmsg) */
static void
test_ntp(void)
{
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(123)}, from;
  unsigned char req[48] = {0x23}, ans[64];
  struct iovec iov = {req, sizeof (req)};
  struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
  struct timeval tv = {5, 0};
  long double t1, t4, t2, t3;
  fd_set r;
  int fd, one = 1, n;

  a.sin_addr.s_addr = htonl(0x7f00007b);
  fd = socket(AF_INET, SOCK_DGRAM, 0);
  check(setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof (one)) < 0 && errno == EINVAL,
        "ntp: kernel socket timestamps are refused", "errno %d", errno);
  if (connect(fd, (struct sockaddr *)&a, sizeof (a)) < 0) {
    printf("connect: %s\n", strerror(errno));
    exit(2);
  }
  memcpy(req + 40, "cookie!!", 8);
  t1 = now(CLOCK_REALTIME);
  sendmsg(fd, &m, 0);
  FD_ZERO(&r);
  FD_SET(fd, &r);
  n = select(fd + 1, &r, NULL, NULL, &tv);
  t4 = now(CLOCK_REALTIME);
  iov.iov_base = ans;
  iov.iov_len = sizeof (ans);
  m.msg_name = &from;
  m.msg_namelen = sizeof (from);
  n = n == 1 ? (int)recvmsg(fd, &m, 0) : -1;
  check(n == 48 && from.sin_addr.s_addr == a.sin_addr.s_addr && from.sin_port == htons(123),
        "ntp: the answer comes from 127.0.0.123 port 123", "len %d port %d", n,
        ntohs(from.sin_port));
  check(n == 48 && (ans[0] & 7) == 4 && ans[1] == 2 && !memcmp(ans + 24, "cookie!!", 8),
        "ntp: a stratum-2 server answer with the request's transmit timestamp as origin",
        "mode %d stratum %d", ans[0] & 7, ans[1]);
  t2 = ntp_ts(ans + 32);
  t3 = ntp_ts(ans + 40);
  check(fabsl(t4 - t1 - 0.00241L) < 5e-6L && fabsl(t3 - t2 - 10e-6L) < 1e-7L,
        "ntp: the answer arrives after both one-way delays and the processing",
        "round trip %.9Lf processing %.9Lf", t4 - t1, t3 - t2);
  check(fabsl(t2 - t1 - (0.001L - 0.25L)) < 1e-7L,
        "ntp: the server's clock is the host's", "t2 - t1 %.9Lf", t2 - t1);
  close(fd);
}

/* ================================================== */

int
main(int argc, char **argv)
{
  const struct {
    const char *name;
    void (*fn)(void);
  } modes[] = {
    {"drift", test_drift}, {"setoffset", test_setoffset}, {"freq", test_freq},
    {"pause", test_pause}, {"pause-tsc", test_pause_tsc}, {"precise", test_precise},
    {"sysfs", test_sysfs}, {"faults", test_faults}, {"loud", test_loud},
    {"noise", test_noise}, {"safety", test_safety}, {"wait", test_wait}, {"logtap", test_logtap}, {"query", test_query}, {"child-pll", unmodelled_pll},
    {"child-ioctl", unmodelled_ioctl}, {"guest-step", test_guest_step},
    {"suspend", test_suspend}, {"suspend-rtc", test_suspend_rtc}, {"migrate", test_migrate},
    {"leap", test_leap}, {"einval", test_einval}, {"pre50", test_pre50}, {"klog", test_klog},
    {"tsnoise", test_tsnoise}, {"phcnoise", test_phcnoise}, {"longpause", test_longpause}, {"ntp", test_ntp}, {"child-seccomp", seccomp_getcaps},
    {"child-seccomp-allowed", seccomp_getcaps_allowed}, {NULL, NULL}
  };
  int i;

  setvbuf(stdout, NULL, _IOLBF, 0);
  for (i = 0; argc == 2 && modes[i].name; i++) {
    if (!strcmp(argv[1], modes[i].name))
      break;
  }
  if (argc != 2 || !modes[i].name) {
    fprintf(stderr, "usage: %s MODE\n", argv[0]);
    return 2;
  }
  modes[i].fn();
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
