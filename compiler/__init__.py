"""The adc compiler: frontend, autodiff, schedule, cse, backends, emit."""
