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

  Default device operations of phc_reader: the real syscalls behind the
  PHCR_Ops seam, restricted to open/read/close/ioctl/fstat and
  opendir/readdir/closedir (no stdio, readlink or realpath), which is what
  chronyd's seccomp filter allows and what the guest simulator intercepts.
  */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "phcr.h"

/* ================================================== */

static int
sys_open(void *ctx, const char *path, int flags)
{
  (void)ctx;
  return open(path, flags);
}

/* ================================================== */

static int
sys_close(void *ctx, int fd)
{
  (void)ctx;
  return close(fd);
}

/* ================================================== */

static int
sys_ioctl(void *ctx, int fd, unsigned long request, void *arg)
{
  (void)ctx;
  return ioctl(fd, request, arg);
}

/* ================================================== */

static ssize_t
sys_read_file(void *ctx, const char *path, char *buf, size_t len)
{
  size_t total = 0;
  ssize_t r;
  int fd, saved;

  (void)ctx;
  if (len == 0) {
    errno = EINVAL;
    return -1;
  }

  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;

  while (total < len - 1) {
    r = read(fd, buf + total, len - 1 - total);
    if (r < 0) {
      if (errno == EINTR)
        continue;
      saved = errno;
      close(fd);
      errno = saved;
      return -1;
    }
    if (r == 0)
      break;
    total += (size_t)r;
  }

  buf[total] = '\0';
  close(fd);
  return (ssize_t)total;
}

/* ================================================== */

static int
sys_list_dir(void *ctx, const char *path, PHCR_ListDirCallback cb, void *arg)
{
  struct dirent *e;
  DIR *d;

  (void)ctx;
  d = opendir(path);
  if (!d)
    return -1;

  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
      continue;
    if (cb(e->d_name, arg))
      break;
  }

  closedir(d);
  return 0;
}

/* ================================================== */

static int
sys_fstat(void *ctx, int fd, struct stat *st)
{
  (void)ctx;
  return fstat(fd, st);
}

/* ================================================== */

const PHCR_Ops PHCR_DefaultOps = {
  .open = sys_open,
  .close = sys_close,
  .ioctl = sys_ioctl,
  .read_file = sys_read_file,
  .list_dir = sys_list_dir,
  .fstat = sys_fstat,
  .ctx = NULL
};
