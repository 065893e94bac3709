/*
  chrony-ptpkvm - ptpkvm-doctor

  SPDX-License-Identifier: GPL-2.0-only
  Copyright (C) 2026 The chrony-ptpkvm authors

  This program is free software; you can redistribute it and/or modify
  it under the terms of version 2 of the GNU General Public License as
  published by the Free Software Foundation.

  =======================================================================

  Entry point of the ptpkvm-doctor binary; everything else is in doctor.c
  (tests link it with a fake device instead).
  */

#include "doctor.h"

int
main(int argc, char **argv)
{
  return DOC_Main(argc, argv);
}
