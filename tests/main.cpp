// tests/main.cpp - the Boost.Test entry point shared by every suite in the test executable.
// SPDX-License-Identifier: BSL-1.0
#define BOOST_TEST_MODULE ipcxx
#ifndef BOOST_TEST_DYN_LINK
#define BOOST_TEST_DYN_LINK
#endif
#include <boost/test/unit_test.hpp>
