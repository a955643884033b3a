module github.com/adxcore/adx-module-guest

go 1.24
