module example.invalid/samplesource/pause

go 1.26.0
