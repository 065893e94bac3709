/*
  chrony-ptpkvm: phc_reader
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

  PHC discovery of phc_reader: enumerate /sys/class/ptp (through the ops
  table and the root-dir prefix), match clock_name, fall back to the
  /dev/ptp_kvm symlink, identify explicitly given devices through their
  device number, verify with PTP_CLOCK_GETCAPS, and explain the choice or
  the failure in words.
  */

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <linux/ptp_clock.h>

#include "phcr_internal.h"

#define SYSFS_PTP "/sys/class/ptp"

/* ================================================== */

const PHCR_Ops *
PHCR_EnvOps(const PHCR_Env *env)
{
  return env && env->ops ? env->ops : &PHCR_DefaultOps;
}

/* ================================================== */

/* <root><path> into buf; returns 0, or -1 if it does not fit */

static int
join_path(const char *root, const char *path, char *buf, size_t len)
{
  size_t rlen = root ? strlen(root) : 0;
  int n;

  while (rlen > 0 && root[rlen - 1] == '/')
    rlen--;
  if (path[0] != '/')
    rlen = 0;

  n = snprintf(buf, len, "%.*s%s", (int)rlen, rlen ? root : "", path);
  return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* ================================================== */

static void append(char *buf, size_t len, const char *fmt, ...)
  __attribute__((format(printf, 3, 4)));

/* Append formatted text to buf (NUL-terminated, truncated at len) */

static void
append(char *buf, size_t len, const char *fmt, ...)
{
  size_t used = strnlen(buf, len);
  va_list ap;

  if (used + 1 >= len)
    return;
  va_start(ap, fmt);
  vsnprintf(buf + used, len - used, fmt, ap);
  va_end(ap);
}

/* ================================================== */

void
PHCR_CopyString(char *dst, size_t len, const char *src)
{
  if (len == 0)
    return;
  snprintf(dst, len, "%s", src ? src : "");
}

/* ================================================== */

static int
parse_ptp_index(const char *name)
{
  char *end;
  long n;

  if (strncmp(name, "ptp", 3) != 0 || name[3] < '0' || name[3] > '9')
    return -1;
  errno = 0;
  n = strtol(name + 3, &end, 10);
  if (errno || *end != '\0' || n < 0 || n > 100000)
    return -1;
  return (int)n;
}

/* ================================================== */

static void
read_sysfs_attr(const PHCR_Env *env, int index, const char *attr, char *buf,
                size_t len)
{
  const PHCR_Ops *ops = PHCR_EnvOps(env);
  char rel[64], path[PHCR_PATH_MAX + PHCR_ROOT_MAX];
  size_t n;

  buf[0] = '\0';
  snprintf(rel, sizeof (rel), SYSFS_PTP "/ptp%d/%s", index, attr);
  if (join_path(env ? env->root : NULL, rel, path, sizeof (path)) < 0)
    return;
  if (ops->read_file(ops->ctx, path, buf, len) < 0) {
    buf[0] = '\0';
    return;
  }
  /* Strip the trailing newline(s) added by sysfs */
  n = strlen(buf);
  while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
    buf[--n] = '\0';
}

/* ================================================== */

typedef struct {
  const PHCR_Env *env;
  PHCR_DeviceInfo *devices;
  int max;
  int found;
} ListState;

static int
list_cb(const char *name, void *arg)
{
  ListState *ls = arg;
  PHCR_DeviceInfo info, tmp;
  int index, i;

  index = parse_ptp_index(name);
  if (index < 0)
    return 0;

  memset(&info, 0, sizeof (info));
  info.index = index;
  snprintf(info.dev_path, sizeof (info.dev_path), "/dev/ptp%d", index);
  read_sysfs_attr(ls->env, index, "clock_name", info.clock_name,
                  sizeof (info.clock_name));

  ls->found++;

  /* Keep the max lowest indices, sorted (insertion) */
  i = ls->found <= ls->max ? ls->found - 1 : ls->max;
  if (i == ls->max && (ls->max == 0 || ls->devices[ls->max - 1].index < index))
    return 0;
  if (i == ls->max)
    i--;
  ls->devices[i] = info;
  for (; i > 0 && ls->devices[i - 1].index > ls->devices[i].index; i--) {
    tmp = ls->devices[i - 1];
    ls->devices[i - 1] = ls->devices[i];
    ls->devices[i] = tmp;
  }
  return 0;
}

/* ================================================== */

int
PHCR_ListDevices(const PHCR_Env *env, PHCR_DeviceInfo *devices, int max,
                 PHCR_Error *error)
{
  const PHCR_Ops *ops = PHCR_EnvOps(env);
  char path[PHCR_PATH_MAX + PHCR_ROOT_MAX];
  ListState ls;

  if (error)
    *error = PHCR_OK;
  if (max < 0 || (max > 0 && !devices)) {
    if (error)
      *error = PHCR_ERR_ARGS;
    return -1;
  }

  ls.env = env;
  ls.devices = devices;
  ls.max = max;
  ls.found = 0;

  if (join_path(env ? env->root : NULL, SYSFS_PTP, path, sizeof (path)) < 0 ||
      ops->list_dir(ops->ctx, path, list_cb, &ls) < 0) {
    if (error)
      *error = PHCR_ERR_NODEVICE;
    return -1;
  }

  return ls.found;
}

/* ================================================== */

static void set_why(PHCR_Discovery *out, const char *fmt, ...)
  __attribute__((format(printf, 2, 3)));

static void
set_why(PHCR_Discovery *out, const char *fmt, ...)
{
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(out->why, sizeof (out->why), fmt, ap);
  va_end(ap);
}

/* ================================================== */

/* Open path (without root) and verify it is a PHC.  Returns PHCR_OK with
   *fd open, or an error with the reason appended to out->error. */

static PHCR_Error
open_verified(const PHCR_Env *env, const char *path, PHCR_Discovery *out,
              int *fd)
{
  const PHCR_Ops *ops = PHCR_EnvOps(env);
  char full[PHCR_PATH_MAX + PHCR_ROOT_MAX];
  struct ptp_clock_caps caps;
  struct stat st;
  int err;

  *fd = -1;
  if (join_path(env ? env->root : NULL, path, full, sizeof (full)) < 0) {
    append(out->error, sizeof (out->error), "%s: path too long; ", path);
    return PHCR_ERR_ARGS;
  }

  *fd = ops->open(ops->ctx, full, O_RDONLY | O_CLOEXEC);
  if (*fd < 0) {
    err = errno;
    out->sys_errno = err;
    append(out->error, sizeof (out->error), "%s: cannot open: %s; ",
           path, strerror(err));
    return err == EACCES || err == EPERM ? PHCR_ERR_ACCESS : PHCR_ERR_NODEVICE;
  }

  if (ops->fstat && ops->fstat(ops->ctx, *fd, &st) == 0) {
    if (!S_ISCHR(st.st_mode)) {
      append(out->error, sizeof (out->error),
             "%s: not a character device; ", path);
      goto not_phc;
    }
    out->rdev = st.st_rdev;
  }

  memset(&caps, 0, sizeof (caps));
  if (ops->ioctl(ops->ctx, *fd, PTP_CLOCK_GETCAPS, &caps) < 0) {
    err = errno;
    out->sys_errno = err;
    append(out->error, sizeof (out->error),
           "%s: PTP_CLOCK_GETCAPS failed: %s; ", path, strerror(err));
    goto not_phc;
  }

  out->cross_timestamping = caps.cross_timestamping;
  PHCR_CopyString(out->path, sizeof (out->path), path);
  return PHCR_OK;

not_phc:
  ops->close(ops->ctx, *fd);
  *fd = -1;
  return PHCR_ERR_NOTPHC;
}

/* ================================================== */
/* Find the sysfs entry of an open device through its device number
   ("major:minor" in /sys/class/ptp/ptpN/dev), without readlink. */

static int
identify_fd(const PHCR_Env *env, int fd, const PHCR_DeviceInfo *devs, int n)
{
  const PHCR_Ops *ops = PHCR_EnvOps(env);
  char buf[32], want[32];
  struct stat st;
  int i;

  if (!ops->fstat || ops->fstat(ops->ctx, fd, &st) < 0)
    return -1;
  snprintf(want, sizeof (want), "%u:%u", major(st.st_rdev), minor(st.st_rdev));

  for (i = 0; i < n; i++) {
    read_sysfs_attr(env, devs[i].index, "dev", buf, sizeof (buf));
    if (strcmp(buf, want) == 0)
      return i;
  }
  return -1;
}

/* ================================================== */

static void
append_found(PHCR_Discovery *out, const PHCR_DeviceInfo *devs, int n,
             int listed)
{
  int i;

  if (listed < 0) {
    append(out->error, sizeof (out->error),
           "PHCs found: none (cannot read " SYSFS_PTP ")");
    return;
  }
  if (n == 0) {
    append(out->error, sizeof (out->error),
           "PHCs found: none (" SYSFS_PTP " is empty; is the ptp_kvm "
           "module loaded?)");
    return;
  }
  append(out->error, sizeof (out->error), "PHCs found:");
  for (i = 0; i < n; i++)
    append(out->error, sizeof (out->error), "%s %s '%s'",
           i ? "," : "", devs[i].dev_path, devs[i].clock_name);
  if (listed > n)
    append(out->error, sizeof (out->error), ", and %d more", listed - n);
}

/* ================================================== */

/* The udev symlink of the KVM clock, when no PHC has the KVM clock_name
   (or none of them could be opened): taken unless it leads to a PHC known
   to have another clock_name (a wrong udev rule) */

static PHCR_Error
try_kvm_symlink(const PHCR_Env *env, const char *name, PHCR_DeviceInfo *devs,
                int n, PHCR_Discovery *out, int *fd)
{
  const PHCR_Ops *ops = PHCR_EnvOps(env);
  PHCR_Error res;
  int i;

  res = open_verified(env, PHCR_KVM_SYMLINK, out, fd);
  if (res != PHCR_OK)
    return res;

  i = identify_fd(env, *fd, devs, n);
  if (i >= 0 && devs[i].clock_name[0] && strcmp(devs[i].clock_name, name) != 0) {
    append(out->error, sizeof (out->error),
           "%s: leads to %s with clock_name '%s'; ", PHCR_KVM_SYMLINK,
           devs[i].dev_path, devs[i].clock_name);
    ops->close(ops->ctx, *fd);
    *fd = -1;
    out->cross_timestamping = 0;
    out->path[0] = '\0';
    return PHCR_ERR_NODEVICE;
  }

  if (i >= 0) {
    out->index = devs[i].index;
    PHCR_CopyString(out->clock_name, sizeof (out->clock_name), devs[i].clock_name);
  }
  set_why(out, "%s: udev symlink of the KVM PTP clock%s%s (no PHC with "
          "clock_name '%s' in " SYSFS_PTP ")", PHCR_KVM_SYMLINK,
          i >= 0 ? " -> " : "", i >= 0 ? devs[i].dev_path : "", name);
  return PHCR_OK;
}

/* ================================================== */

static PHCR_Error
find_auto(const PHCR_Env *env, const char *name, PHCR_DeviceInfo *devs,
          int n, int listed, PHCR_Discovery *out, int *fd)
{
  PHCR_Error res, last = PHCR_ERR_NODEVICE;
  int i, matched = 0;

  for (i = 0; i < n; i++) {
    if (strcmp(devs[i].clock_name, name) != 0)
      continue;
    matched++;
    res = open_verified(env, devs[i].dev_path, out, fd);
    if (res == PHCR_OK) {
      out->index = devs[i].index;
      PHCR_CopyString(out->clock_name, sizeof (out->clock_name),
                      devs[i].clock_name);
      set_why(out, "%s: clock_name '%s'",
               devs[i].dev_path, devs[i].clock_name);
      return PHCR_OK;
    }
    last = res;
  }

  /* /dev/ptp_kvm names the KVM clock: no fallback for another clock name */
  if (strcmp(name, PHCR_DEFAULT_CLOCK_NAME) == 0) {
    res = try_kvm_symlink(env, name, devs, n, out, fd);
    if (res == PHCR_OK)
      return PHCR_OK;
    if (matched == 0 || res != PHCR_ERR_NODEVICE)
      last = res;
  }

  append(out->error, sizeof (out->error),
         "no usable PHC with clock_name '%s'%s; ", name,
         matched ? " (matching devices failed)" : "");
  append_found(out, devs, n, listed);
  return last;
}

/* ================================================== */

static PHCR_Error
find_path(const PHCR_Env *env, const char *path, const char *name,
          PHCR_DeviceInfo *devs, int n, int listed, PHCR_Discovery *out,
          int *fd)
{
  PHCR_Error res;
  int i;

  res = open_verified(env, path, out, fd);
  if (res != PHCR_OK) {
    append_found(out, devs, n, listed);
    return res;
  }

  i = identify_fd(env, *fd, devs, n);
  if (i < 0) {
    /* No device numbers available: trust a /dev/ptpN name */
    for (i = n - 1; i >= 0; i--)
      if (strcmp(devs[i].dev_path, path) == 0)
        break;
  }

  if (i < 0) {
    set_why(out, "%s: given path (no sysfs entry "
             "found, clock_name unknown)", path);
    return PHCR_OK;
  }

  out->index = devs[i].index;
  PHCR_CopyString(out->clock_name, sizeof (out->clock_name), devs[i].clock_name);
  set_why(out, "%s: given path, %s clock_name '%s'%s",
           path, devs[i].dev_path, devs[i].clock_name,
           strcmp(devs[i].clock_name, name) == 0 ? "" :
           " (not the expected clock name)");
  return PHCR_OK;
}

/* ================================================== */

int
PHCR_CheckSpec(const char *spec, char *err, size_t err_len)
{
  if (spec && (!strcmp(spec, PHCR_SPEC_AUTO) || (spec[0] == '/' && spec[1] != '\0')))
    return 1;
  snprintf(err, err_len, "invalid device '%s': valid forms are '" PHCR_SPEC_AUTO
           "' (the PHC named by clockname=) or an absolute path such as "
           PHCR_KVM_SYMLINK " or /dev/ptp0", spec ? spec : "");
  return 0;
}

/* ================================================== */

PHCR_Error
PHCR_FindAndOpenDevice(const PHCR_Env *env, const char *spec,
                       const char *clock_name, PHCR_Discovery *out, int *fd)
{
  PHCR_DeviceInfo devs[PHCR_MAX_DEVICES];
  PHCR_Error res;
  int listed, n;

  if (!out || !fd)
    return PHCR_ERR_ARGS;

  memset(out, 0, sizeof (*out));
  out->index = -1;
  *fd = -1;

  if (!spec || !*spec)
    spec = PHCR_SPEC_AUTO;
  if (!clock_name || !*clock_name)
    clock_name = PHCR_DEFAULT_CLOCK_NAME;

  if (!PHCR_CheckSpec(spec, out->error, sizeof (out->error)))
    return PHCR_ERR_ARGS;

  listed = PHCR_ListDevices(env, devs, PHCR_MAX_DEVICES, NULL);
  n = listed < 0 ? 0 : listed < PHCR_MAX_DEVICES ? listed : PHCR_MAX_DEVICES;

  if (strcmp(spec, PHCR_SPEC_AUTO) == 0)
    res = find_auto(env, clock_name, devs, n, listed, out, fd);
  else
    res = find_path(env, spec, clock_name, devs, n, listed, out, fd);

  if (res == PHCR_OK)
    out->error[0] = '\0';
  return res;
}

/* ================================================== */

PHCR_Error
PHCR_FindDevice(const PHCR_Env *env, const char *spec, const char *clock_name,
                PHCR_Discovery *out)
{
  const PHCR_Ops *ops = PHCR_EnvOps(env);
  PHCR_Error res;
  int fd;

  res = PHCR_FindAndOpenDevice(env, spec, clock_name, out, &fd);
  if (res == PHCR_OK)
    ops->close(ops->ctx, fd);
  return res;
}
