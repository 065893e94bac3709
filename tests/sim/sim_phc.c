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

  Emulated PTP hardware clocks.  /dev/ptpN and /dev/ptp_kvm open to a real
  descriptor (of /dev/null) registered as a fake PHC whose ioctls and
  clock_gettime() are answered by the device model (tests/model/
  ptpkvm_model.c) on the simulator's virtual clocks, fault windows and
  random streams; other PHC kinds (e.g. a NIC) can be added for discovery
  tests.  A sysfs fixture tree (/sys/class/ptp/ptpN/clock_name, dev, ...)
  is written to the simulator's directory and path lookups are redirected
  there.  The process's seccomp ioctl allow-list (recorded from its
  seccomp_rule_add calls) is enforced here.
  Unknown ioctls abort the process loudly.
  */

#include <errno.h>
#include <fcntl.h>
#include <linux/ptp_clock.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "ptpkvm_model.h"
#include "sim.h"

#define MAX_FDS 4096
#define SYSFS_PREFIX "/sys/class/ptp"
#define PTP_MAJOR 246

/* libseccomp actions (seccomp.h) */
#define ACT_KILL_THREAD 0x00000000U
#define ACT_KILL_PROCESS 0x80000000U
#define ACT_TRAP 0x00030000U
#define ACT_ALLOW 0x7fff0000U

static char fixture_dir[256];
static signed char fd_phc[MAX_FDS];     /* PHC slot + 1, 0 = not fake */
static int seccomp_loaded;
/* ioctl numbers allowed by the process's seccomp rules (as recorded from
   seccomp_rule_add); allow_all_ioctls if ioctl is allowed unconditionally */
#define MAX_ALLOWED 32
static unsigned long allowed_ioctls[MAX_ALLOWED];
static int n_allowed_ioctls, allow_all_ioctls;
static unsigned int seccomp_init_action = ACT_ALLOW, seccomp_action = ACT_ALLOW;
static unsigned long long ioctl_count, ioctl_errors;

/* ================================================== */

static int
present(int slot)
{
  return !(SIM_sc.phcs[slot].kvm && SIM_WindowActive(SIM_EV_GONE, NULL));
}

/* ================================================== */
/* The device model's view of the simulator: the guest/host clocks in
   virtual time, the scenario's fault windows, its random streams and the
   hypercall bookkeeping */

static PKM_Device devs[SIM_MAX_PHCS];
static int read_failed;           /* a hypercall of this reading failed */

static int64_t
to_ns(SIM_Time v, int add_epoch)
{
  struct timespec ts;

  SIM_ToTimespec(v, &ts);
  return (ts.tv_sec + (add_epoch ? SIM_sc.epoch : 0)) * 1000000000LL + ts.tv_nsec;
}

static int64_t
env_realtime(void *ctx)
{
  struct timespec ts;

  SIM_ReadClock(CLOCK_REALTIME, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void
env_crosststamp(void *ctx, int64_t *rt, int64_t *raw)
{
  *rt = to_ns(SIM_GuestRealtime(), 1);
  *raw = to_ns(SIM_GuestMonoRaw(), 0);
}

/* a PHC counting TAI does not repeat or skip the host's leap seconds */
static int64_t
env_phc(void *ctx, int slot)
{
  SIM_PhcDef *p = &SIM_sc.phcs[slot];

  return to_ns(SIM_Host() + p->offset + (p->tai ? SIM_HostLeaps() : 0), 1);
}

static void
env_advance(void *ctx, double ns)
{
  SIM_AdvanceTrue(ns * 1e-9L);
}

static double
env_uniform(void *ctx, int stream)
{
  return SIM_RandUniform(stream == PKM_RNG_NOISE ? SIM_RNG_PHC : SIM_RNG_FAULT);
}

static double
env_gauss(void *ctx, int stream)
{
  return SIM_RandGauss(stream == PKM_RNG_NOISE ? SIM_RNG_PHC : SIM_RNG_FAULT);
}

static double
window(SIM_EventType type)
{
  double p;

  return SIM_WindowActive(type, &p) ? p : 0.0;
}

static double
env_chance(void *ctx, int slot, PKM_Condition cond)
{
  switch (cond) {
    case PKM_COND_HOSTFAIL:
      return SIM_WindowActive(SIM_EV_HOSTFAIL, NULL);
    case PKM_COND_GONE:
      return !present(slot);
    case PKM_COND_EINTR:
      return window(SIM_EV_EINTR);
    case PKM_COND_WILD:
      return window(SIM_EV_GARBAGE);
    case PKM_COND_PRECISE_EINVAL:
      return window(SIM_EV_PRECISE_EINVAL);
    default:
      return SIM_TscMode();
  }
}

static void
env_access(void *ctx, int slot)
{
  if (SIM_sc.phcs[slot].kvm)
    SIM_CountHypercall();
}

static void
env_access_failed(void *ctx, int slot, int site)
{
  SIM_KernelLog(site == PKM_SITE_PAIRING ? SIM_KLOG_PAIRING : SIM_KLOG_OFFSET);
  read_failed = 1;
}

static void
env_sampling(void *ctx, int slot)
{
  SIM_CountBasicIoctl();
}

static const PKM_Env env = {
  NULL, env_realtime, env_crosststamp, env_phc, env_advance, env_uniform, env_gauss,
  env_chance, env_access, env_access_failed, env_sampling
};

static void
init_devices(void)
{
  int i;

  for (i = 0; i < SIM_sc.n_phcs; i++) {
    PKM_Device *d = &devs[i];
    PKM_Noise *n = &d->noise;

    d->kind = SIM_sc.phcs[i].kvm ? PKM_KVM : PKM_NIC;
    d->cross = 0;
    d->kernel_pre50 = SIM_sc.kernel_pre50;
    d->id = i;
    n->out_ns = SIM_sc.hc_out * 1e9;
    n->back_ns = SIM_sc.hc_back * 1e9;
    n->jitter_ns = SIM_sc.hc_jitter * 1e9;
    n->spike_prob = SIM_sc.spike_prob;
    n->spike_min_ns = SIM_sc.spike_min * 1e9;
    n->spike_max_ns = SIM_sc.spike_max * 1e9;
    n->precise_noise_ns = SIM_sc.precise_noise * 1e9;
    n->sys_ts_noise_ns = SIM_sc.sys_ts_noise * 1e9;
    n->phc_ts_noise_ns = SIM_sc.phc_ts_noise * 1e9;
  }
}

/* ================================================== */

static void
write_file(const char *dir, const char *name, const char *text)
{
  char path[512];
  int fd;

  snprintf(path, sizeof (path), "%s/%s", dir, name);
  fd = SIM_real_open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
    SIM_Fatal("cannot write fixture %s", path);
  SIM_real_close(fd);
}

static void
mkdirs(const char *path)
{
  char buf[512], *p;

  snprintf(buf, sizeof (buf), "%s", path);
  for (p = buf + 1; *p; p++) {
    if (*p == '/') {
      *p = '\0';
      mkdir(buf, 0755);
      *p = '/';
    }
  }
  mkdir(buf, 0755);
}

static void
write_number(const char *dir, const char *name, int value)
{
  char text[32];

  snprintf(text, sizeof (text), "%d\n", value);
  write_file(dir, name, text);
}

static void
create_phc_dir(int slot)
{
  SIM_PhcDef *p = &SIM_sc.phcs[slot];
  struct ptp_clock_caps caps;
  char dir[400], text[96];

  snprintf(dir, sizeof (dir), "%s" SYSFS_PREFIX "/ptp%d", fixture_dir, p->index);
  mkdirs(dir);
  snprintf(text, sizeof (text), "%s\n", p->clock_name);
  write_file(dir, "clock_name", text);
  snprintf(text, sizeof (text), "%d:%d\n", PTP_MAJOR, p->index);
  write_file(dir, "dev", text);
  /* drivers/ptp/ptp_sysfs.c shows the driver's caps */
  PKM_Caps(&devs[slot], &caps);
  write_number(dir, "max_adjustment", caps.max_adj);
  write_number(dir, "n_external_timestamps", caps.n_ext_ts);
  write_number(dir, "n_periodic_outputs", caps.n_per_out);
  write_number(dir, "n_programmable_pins", caps.n_pins);
  write_number(dir, "pps_available", caps.pps);
}

static void
remove_phc_dir(int slot)
{
  const char *names[] = {"clock_name", "dev", "max_adjustment", "n_external_timestamps",
                         "n_periodic_outputs", "n_programmable_pins", "pps_available", NULL};
  char dir[400], path[512];
  int i;

  snprintf(dir, sizeof (dir), "%s" SYSFS_PREFIX "/ptp%d", fixture_dir, SIM_sc.phcs[slot].index);
  for (i = 0; names[i]; i++) {
    snprintf(path, sizeof (path), "%s/%s", dir, names[i]);
    unlink(path);
  }
  rmdir(dir);
}

void
SIM_PhcUpdatePresence(void)
{
  int i;

  for (i = 0; i < SIM_sc.n_phcs; i++) {
    if (present(i))
      create_phc_dir(i);
    else
      remove_phc_dir(i);
  }
}

/* ================================================== */

void
SIM_PhcInit(const char *dir)
{
  char path[400];

  init_devices();
  snprintf(fixture_dir, sizeof (fixture_dir), "%s", dir);
  snprintf(path, sizeof (path), "%s" SYSFS_PREFIX, fixture_dir);
  mkdirs(path);
  SIM_PhcUpdatePresence();
}

/* ================================================== */

const char *
SIM_PhcMapPath(const char *path, char *buf, size_t len)
{
  size_t n = strlen(SYSFS_PREFIX);

  if (!path || strncmp(path, SYSFS_PREFIX, n) || (path[n] != '\0' && path[n] != '/'))
    return path;
  snprintf(buf, len, "%s%s", fixture_dir, path);
  return buf;
}

/* ================================================== */
/* Slot of the PHC named by a /dev path, or -1 if it is not a PHC path */

int
SIM_PhcPathIndex(const char *path)
{
  char *end;
  long n;
  int i;

  if (!path)
    return -1;
  if (!strcmp(path, "/dev/ptp_kvm")) {
    for (i = 0; i < SIM_sc.n_phcs; i++) {
      if (SIM_sc.phcs[i].kvm)
        return i;
    }
    return SIM_MAX_PHCS;         /* a PHC path without a device */
  }
  if (strncmp(path, "/dev/ptp", 8) || !path[8])
    return -1;
  n = strtol(path + 8, &end, 10);
  if (*end)
    return -1;
  for (i = 0; i < SIM_sc.n_phcs; i++) {
    if (SIM_sc.phcs[i].index == n)
      return i;
  }
  return SIM_MAX_PHCS;
}

/* ================================================== */

int
SIM_PhcOpen(const char *path, int *fd)
{
  int slot = SIM_PhcPathIndex(path);

  if (slot < 0)
    return 0;
  if (slot >= SIM_MAX_PHCS || !present(slot)) {
    SIM_LogEvent("phc_open path=%s result=ENOENT", path);
    errno = ENOENT;
    *fd = -1;
    return 1;
  }
  *fd = SIM_real_open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (*fd < 0 || *fd >= MAX_FDS)
    SIM_Fatal("cannot create descriptor for fake PHC");
  fd_phc[*fd] = slot + 1;
  SIM_LogEvent("phc_open path=%s fd=%d", path, *fd);
  return 1;
}

int
SIM_PhcFdSlot(int fd)
{
  return SIM_PhcIsFake(fd) ? fd_phc[fd] - 1 : -1;
}

int
SIM_PhcIsFake(int fd)
{
  return fd >= 0 && fd < MAX_FDS && fd_phc[fd];
}

void
SIM_PhcClose(int fd)
{
  if (SIM_PhcIsFake(fd)) {
    fd_phc[fd] = 0;
    SIM_LogEvent("phc_close fd=%d", fd);
  }
}

void
SIM_PhcFakeStat(int slot, void *buf, int is64)
{
  dev_t rdev = makedev(PTP_MAJOR, slot < SIM_MAX_PHCS ? SIM_sc.phcs[slot].index : 0);

  if (is64) {
    struct stat64 *st = buf;

    memset(st, 0, sizeof (*st));
    st->st_mode = S_IFCHR | 0600;
    st->st_rdev = rdev;
    st->st_nlink = 1;
    st->st_blksize = 4096;
  } else {
    struct stat *st = buf;

    memset(st, 0, sizeof (*st));
    st->st_mode = S_IFCHR | 0600;
    st->st_rdev = rdev;
    st->st_nlink = 1;
    st->st_blksize = 4096;
  }
}

/* ================================================== */
/* Seccomp: chronyd's filter is not loaded for real, but emulated ioctls
   outside its allow-list kill the process as the kernel filter would */

void
SIM_SeccompInitAction(unsigned int action)
{
  seccomp_init_action = action;
}

void
SIM_SeccompIoctlRule(unsigned int action, long long nr)
{
  if (action != ACT_ALLOW)
    return;
  if (nr == -1) {
    allow_all_ioctls = 1;
  } else if (nr < 0) {
    SIM_Fatal("seccomp ioctl rule with an unmodelled argument filter");
  } else if (n_allowed_ioctls < MAX_ALLOWED) {
    allowed_ioctls[n_allowed_ioctls++] = (unsigned long)nr;
  }
}

unsigned int
SIM_SeccompInitActionValue(void)
{
  return seccomp_init_action;
}

void
SIM_SeccompLoaded(unsigned int default_action)
{
  seccomp_loaded = 1;
  seccomp_action = default_action;
  SIM_LogEvent("seccomp_load default_action=0x%x allowed_ioctls=%d%s", default_action,
               n_allowed_ioctls, allow_all_ioctls ? " (all)" : "");
}

static void
check_seccomp(unsigned long req)
{
  sigset_t set;
  int i;

  if (!seccomp_loaded || seccomp_action == ACT_ALLOW || allow_all_ioctls)
    return;
  /* The kernel compares the 32-bit command */
  for (i = 0; i < n_allowed_ioctls; i++) {
    if ((unsigned int)allowed_ioctls[i] == (unsigned int)req)
      return;
  }

  SIM_LogEvent("seccomp_violation ioctl=0x%lx action=%s", req,
               seccomp_action == ACT_TRAP ? "trap" : "kill");
  SIM_Flush();
  fprintf(stderr, "SIM: seccomp: ioctl 0x%lx is not in chronyd's allow-list\n", req);
  if (seccomp_action != ACT_TRAP)
    signal(SIGSYS, SIG_DFL);
  sigemptyset(&set);
  sigaddset(&set, SIGSYS);
  sigprocmask(SIG_UNBLOCK, &set, NULL);
  raise(SIGSYS);
  if (seccomp_action != ACT_TRAP)
    _exit(128 + SIGSYS);
}

/* ================================================== */

static const char *
ioctl_name(unsigned long req)
{
  switch (req) {
    case PTP_CLOCK_GETCAPS: return "GETCAPS";
    case PTP_CLOCK_GETCAPS2: return "GETCAPS2";
    case PTP_SYS_OFFSET: return "SYS_OFFSET";
    case PTP_SYS_OFFSET2: return "SYS_OFFSET2";
    case PTP_SYS_OFFSET_PRECISE: return "PRECISE";
    case PTP_SYS_OFFSET_PRECISE2: return "PRECISE2";
    case PTP_SYS_OFFSET_EXTENDED: return "EXTENDED";
    case PTP_SYS_OFFSET_EXTENDED2: return "EXTENDED2";
    default: return "unknown";
  }
}

int
SIM_PhcIoctl(int fd, unsigned long req, void *arg)
{
  int slot = fd_phc[fd] - 1, r;

  check_seccomp(req);
  ioctl_count++;
  if (!strcmp(ioctl_name(req), "unknown"))
    SIM_Fatal("ioctl 0x%lx on fake PHC fd %d not modelled", req, fd);

  read_failed = 0;
  r = PKM_Ioctl(&env, &devs[slot], req, arg, 0, PKM_GARBAGE_NONE);

  if (req != PTP_CLOCK_GETCAPS && req != PTP_CLOCK_GETCAPS2)
    SIM_ReadOutcome(r == 0 && !read_failed);
  if (r < 0) {
    SIM_CountFailedIoctl();
    ioctl_errors++;
    /* Log only the first failures of each kind to keep the log small */
    if (ioctl_errors <= 20 || ioctl_errors % 1000 == 0)
      SIM_LogEvent("phc_ioctl_error ioctl=%s errno=%d count=%llu", ioctl_name(req), -r,
                   ioctl_errors);
    errno = -r;
    return -1;
  }
  return 0;
}

/* ================================================== */

int
SIM_PhcGettime(int fd, struct timespec *ts)
{
  int64_t ns;
  int r;

  read_failed = 0;
  r = PKM_Gettime(&env, &devs[fd_phc[fd] - 1], &ns);
  if (r != -ENODEV)
    SIM_ReadOutcome(r == 0);
  if (r < 0) {
    errno = -r;
    return -1;
  }
  ts->tv_sec = ns / 1000000000LL;
  ts->tv_nsec = ns % 1000000000LL;
  return 0;
}
