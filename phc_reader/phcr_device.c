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

  PHC discovery of phc_reader (see PHCR_FindDevice): devices are mapped
  to their sysfs entry through the device number, files are read with
  open/read/close and directories with opendir/readdir (no stdio,
  readlink or realpath: what chronyd's seccomp filter allows).
  */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <linux/ptp_clock.h>

#include "phcr_internal.h"

#define SYSFS_PTP "/sys/class/ptp"
#define SPEC_AUTO "auto"

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

/* N of "ptpN", or -1 */

static int
parse_ptp_index(const char *name)
{
  size_t digits;

  if (strncmp(name, "ptp", 3))
    return -1;
  digits = strspn(name + 3, "0123456789");
  return digits == 0 || digits > 5 || name[3 + digits] ? -1 : atoi(name + 3);
}

/* ================================================== */

/* An attribute of /sys/class/ptp/ptpN without its trailing newline, "" if
   unreadable */

static void
read_sysfs_attr(int index, const char *attr, char *buf, size_t len)
{
  char path[64];
  ssize_t n;
  int fd;

  snprintf(path, sizeof (path), SYSFS_PTP "/ptp%d/%s", index, attr);
  buf[0] = '\0';
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return;
  n = read(fd, buf, len - 1);
  close(fd);
  buf[n > 0 ? n : 0] = '\0';
  while (n > 0 && buf[n - 1] == '\n')
    buf[--n] = '\0';
}

/* ================================================== */

/* Insert info among the max lowest indices kept sorted in devices[0..kept) */

static void
insert_sorted(PHCR_DeviceInfo *devices, int kept, int max, const PHCR_DeviceInfo *info)
{
  int i;

  if (kept == max && (max == 0 || devices[max - 1].index < info->index))
    return;
  i = kept < max ? kept : max - 1;
  for (; i > 0 && devices[i - 1].index > info->index; i--)
    devices[i] = devices[i - 1];
  devices[i] = *info;
}

/* ================================================== */

int
PHCR_ListDevices(PHCR_DeviceInfo *devices, int max)
{
  PHCR_DeviceInfo info;
  struct dirent *e;
  int found = 0;
  DIR *d;

  d = opendir(SYSFS_PTP);
  if (!d)
    return -1;

  while ((e = readdir(d)) != NULL) {
    info.index = parse_ptp_index(e->d_name);
    if (info.index < 0)
      continue;
    snprintf(info.dev_path, sizeof (info.dev_path), "/dev/ptp%d", info.index);
    read_sysfs_attr(info.index, "clock_name", info.clock_name, sizeof (info.clock_name));
    insert_sorted(devices, found < max ? found : max, max, &info);
    found++;
  }

  closedir(d);
  return found;
}

/* ================================================== */

/* Open path and verify it is a PHC.  Returns PHCR_OK with *fd open, or an
   error with the reason appended to out->error. */

static PHCR_Error
open_verified(const char *path, PHCR_Discovery *out, int *fd)
{
  struct ptp_clock_caps caps;
  struct stat st;
  int err;

  *fd = open(path, O_RDONLY | O_CLOEXEC);
  if (*fd < 0) {
    err = errno;
    out->sys_errno = err;
    append(out->error, sizeof (out->error), "%s: cannot open: %s; ", path, strerror(err));
    return err == EACCES || err == EPERM ? PHCR_ERR_ACCESS : PHCR_ERR_NODEVICE;
  }

  if (fstat(*fd, &st) < 0 || !S_ISCHR(st.st_mode)) {
    append(out->error, sizeof (out->error), "%s: not a character device; ", path);
    goto not_phc;
  }
  out->rdev = st.st_rdev;

  memset(&caps, 0, sizeof (caps));
  if (ioctl(*fd, PTP_CLOCK_GETCAPS, &caps) < 0) {
    err = errno;
    out->sys_errno = err;
    append(out->error, sizeof (out->error), "%s: PTP_CLOCK_GETCAPS failed: %s; ",
           path, strerror(err));
    goto not_phc;
  }

  out->cross_timestamping = caps.cross_timestamping;
  snprintf(out->path, sizeof (out->path), "%s", path);
  return PHCR_OK;

not_phc:
  close(*fd);
  *fd = -1;
  return PHCR_ERR_NOTPHC;
}

/* ================================================== */

/* Find the listed PHC of an open device through its device number
   ("major:minor" in /sys/class/ptp/ptpN/dev), without readlink */

static int
identify(const PHCR_Discovery *out, const PHCR_DeviceInfo *devs, int n)
{
  char buf[32], want[32];
  int i;

  snprintf(want, sizeof (want), "%u:%u", major(out->rdev), minor(out->rdev));
  for (i = 0; i < n; i++) {
    read_sysfs_attr(devs[i].index, "dev", buf, sizeof (buf));
    if (strcmp(buf, want) == 0)
      return i;
  }
  return -1;
}

/* ================================================== */

static void
append_found(PHCR_Discovery *out, const PHCR_DeviceInfo *devs, int n, int listed)
{
  int i;

  if (listed < 0) {
    append(out->error, sizeof (out->error), "PHCs found: none (cannot read " SYSFS_PTP ")");
    return;
  }
  if (n == 0) {
    append(out->error, sizeof (out->error),
           "PHCs found: none (" SYSFS_PTP " is empty; is the ptp_kvm module loaded?)");
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
try_kvm_symlink(const char *name, const PHCR_DeviceInfo *devs, int n, PHCR_Discovery *out,
                int *fd)
{
  PHCR_Error res;
  int i;

  res = open_verified(PHCR_KVM_SYMLINK, out, fd);
  if (res != PHCR_OK)
    return res;

  i = identify(out, devs, n);
  if (i >= 0 && devs[i].clock_name[0] && strcmp(devs[i].clock_name, name) != 0) {
    append(out->error, sizeof (out->error), "%s: leads to %s with clock_name '%s'; ",
           PHCR_KVM_SYMLINK, devs[i].dev_path, devs[i].clock_name);
    close(*fd);
    *fd = -1;
    out->cross_timestamping = 0;
    out->path[0] = '\0';
    return PHCR_ERR_NODEVICE;
  }

  if (i >= 0)
    memcpy(out->clock_name, devs[i].clock_name, sizeof (out->clock_name));
  append(out->why, sizeof (out->why), "%s: udev symlink of the KVM PTP clock%s%s (no PHC "
         "with clock_name '%s' in " SYSFS_PTP ")", PHCR_KVM_SYMLINK,
         i >= 0 ? " -> " : "", i >= 0 ? devs[i].dev_path : "", name);
  return PHCR_OK;
}

/* ================================================== */

static PHCR_Error
find_auto(const char *name, const PHCR_DeviceInfo *devs, int n, int listed,
          PHCR_Discovery *out, int *fd)
{
  PHCR_Error res, last = PHCR_ERR_NODEVICE;
  int i, matched = 0;

  for (i = 0; i < n; i++) {
    if (strcmp(devs[i].clock_name, name) != 0)
      continue;
    matched++;
    res = open_verified(devs[i].dev_path, out, fd);
    if (res == PHCR_OK) {
      memcpy(out->clock_name, devs[i].clock_name, sizeof (out->clock_name));
      append(out->why, sizeof (out->why), "%s: clock_name '%s'",
             devs[i].dev_path, devs[i].clock_name);
      return PHCR_OK;
    }
    last = res;
  }

  /* /dev/ptp_kvm names the KVM clock: no fallback for another clock name */
  if (strcmp(name, PHCR_DEFAULT_CLOCK_NAME) == 0) {
    res = try_kvm_symlink(name, devs, n, out, fd);
    if (res == PHCR_OK)
      return PHCR_OK;
    if (matched == 0 || res != PHCR_ERR_NODEVICE)
      last = res;
  }

  append(out->error, sizeof (out->error), "no usable PHC with clock_name '%s'%s; ", name,
         matched ? " (matching devices failed)" : "");
  append_found(out, devs, n, listed);
  return last;
}

/* ================================================== */

static PHCR_Error
find_path(const char *path, const char *name, const PHCR_DeviceInfo *devs, int n,
          int listed, PHCR_Discovery *out, int *fd)
{
  PHCR_Error res;
  int i;

  res = open_verified(path, out, fd);
  if (res != PHCR_OK) {
    append_found(out, devs, n, listed);
    return res;
  }

  i = identify(out, devs, n);
  if (i < 0) {
    append(out->why, sizeof (out->why),
           "%s: given path (no sysfs entry found, clock_name unknown)", path);
    return PHCR_OK;
  }

  memcpy(out->clock_name, devs[i].clock_name, sizeof (out->clock_name));
  append(out->why, sizeof (out->why), "%s: given path, %s clock_name '%s'%s",
         path, devs[i].dev_path, devs[i].clock_name,
         strcmp(devs[i].clock_name, name) == 0 ? "" : " (not the expected clock name)");
  return PHCR_OK;
}

/* ================================================== */

int
PHCR_CheckSpec(const char *spec, char *err, size_t err_len)
{
  if (spec && (!strcmp(spec, SPEC_AUTO) || (spec[0] == '/' && spec[1] != '\0')))
    return 1;
  snprintf(err, err_len, "invalid device '%s': valid forms are '" SPEC_AUTO
           "' (the PHC named by clockname=) or an absolute path such as "
           PHCR_KVM_SYMLINK " or /dev/ptp0", spec ? spec : "");
  return 0;
}

/* ================================================== */

PHCR_Error
PHCR_FindAndOpenDevice(const char *spec, const char *clock_name, PHCR_Discovery *out,
                       int *fd)
{
  PHCR_DeviceInfo devs[PHCR_MAX_DEVICES];
  PHCR_Error res;
  int listed, n;

  memset(out, 0, sizeof (*out));
  *fd = -1;

  if (!spec || !*spec)
    spec = SPEC_AUTO;
  if (!clock_name || !*clock_name)
    clock_name = PHCR_DEFAULT_CLOCK_NAME;

  listed = PHCR_ListDevices(devs, PHCR_MAX_DEVICES);
  n = listed < 0 ? 0 : listed < PHCR_MAX_DEVICES ? listed : PHCR_MAX_DEVICES;

  if (strcmp(spec, SPEC_AUTO) == 0)
    res = find_auto(clock_name, devs, n, listed, out, fd);
  else
    res = find_path(spec, clock_name, devs, n, listed, out, fd);

  if (res == PHCR_OK)
    out->error[0] = '\0';
  return res;
}

/* ================================================== */

PHCR_Error
PHCR_FindDevice(const char *spec, const char *clock_name, PHCR_Discovery *out)
{
  PHCR_Error res;
  int fd;

  res = PHCR_FindAndOpenDevice(spec, clock_name, out, &fd);
  if (res == PHCR_OK)
    close(fd);
  return res;
}
