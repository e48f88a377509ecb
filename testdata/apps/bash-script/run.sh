#!/bin/sh
echo "app says: $* (HELLO_GREETING=$HELLO_GREETING)"
